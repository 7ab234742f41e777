"""The `qa` command: ingest, ask, documents, serve, mcp, migrate-index, eval, bench."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from qa.corpus import DocumentError
from qa.loaders import LoadError, load_paths
from qa.service import QAService, QuestionError, describe
from qa.stories import STATUS_WORDS

NO_DOCUMENTS = ("No documents yet: add some with `qa ingest PATH...` (text, Markdown, HTML, JSON, "
                "PDF, DOCX).")


def open_service() -> QAService:
    """The service of this command (one process, one settings object: the environment's)."""
    from qa.settings import get_settings

    return QAService(get_settings())


# `qa ingest` hands documents to the corpus this many at a time: each batch is split in one
# spaCy stream and embedded in one encoder call, and its lines are printed once it is stored.
INGEST_BATCH = 64


def cmd_ingest(args: argparse.Namespace) -> int:
    """Add every readable document, INGEST_BATCH at a time; each file, record, entry or link
    that cannot be added is reported on one line by name, and the exit status is 1 when there
    was any. A document's line is printed once its batch is stored. Feeds (.rss, .atom and
    feed .xml files, feed URLs) and page URLs go through qa.feeds: each entry's link is
    fetched once, and a link already stored is not fetched again ("already ingested")."""
    from tqdm import tqdm

    from qa.feeds import gather, split_arguments, stored_url
    from qa.settings import get_settings

    settings = get_settings()
    paths, sources = split_arguments(args.paths)
    report = load_paths([Path(p) for p in paths], settings.max_upload_bytes)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    problems = [str(p) for p in report.problems]
    service = QAService(settings)
    fed = gather(sources, settings, known=stored_url(service.corpus.find_story),
                 max_file_bytes=settings.max_upload_bytes)
    problems += [str(p) for p in fed.problems]
    for entry in fed.entries:
        if entry.note:
            print(f"note: {entry.link}: {entry.note}", file=sys.stderr)
        if entry.status == "failed":
            problems.append(f"{entry.link}: {entry.reason}")
        elif entry.status == "already_ingested" and entry.repeat_of is None:
            print(f"already ingested\t{entry.document_id}\t{entry.link}")
    incoming = [*report.documents, *(e.document for e in fed.pending if e.document is not None)]
    docs = []  # (document as stored, whether it came from a feed or a page URL)
    for i, (doc, prepared) in enumerate(zip(incoming, service.corpus.prepare_each(incoming),
                                            strict=True)):
        if isinstance(prepared, DocumentError):
            problems.append(f"{doc.source or repr(doc.title[:80])}: {prepared}")
        else:
            docs.append((prepared, i >= len(report.documents)))
    with tqdm(total=len(docs), desc="ingesting", unit="doc", file=sys.stderr,
              disable=len(docs) <= INGEST_BATCH or not sys.stderr.isatty()) as bar:
        for start in range(0, len(docs), INGEST_BATCH):
            batch = docs[start : start + INGEST_BATCH]
            results = service.add_documents([doc for doc, _ in batch])
            for (_, fetched), r in zip(batch, results, strict=True):
                state = "added" if r.created else "already ingested" if fetched else "unchanged"
                replaced = f"\t(new version of {r.replaced})" if r.replaced else ""
                bar.write(f"{state}\t{r.document.id}\t{r.document.passage_count} passages\t"
                          f"{r.document.title}{replaced}", file=sys.stdout)
            bar.update(len(batch))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not docs and not problems and not fed.entries:
        print("no documents found", file=sys.stderr)
    return 1 if problems or not (docs or fed.entries) else 0


def _print_answer(answer_data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer_data, ensure_ascii=False, indent=2))
        return
    if answer_data.get("standalone_question") and \
            answer_data["standalone_question"] != answer_data["question"]:
        print(f"(searched: {answer_data['standalone_question']})")
    if answer_data.get("notice"):
        print(answer_data["notice"])
    if answer_data["answer"] is None:
        print(f"The articles do not say. (confidence {answer_data['confidence']:.2f})")
        print("Closest passages:")
    else:
        as_of = f", as of {answer_data['as_of']}" if answer_data.get("as_of") else ""
        print(f"{answer_data['answer']}  (confidence {answer_data['confidence']:.2f}{as_of})")
        if date := answer_data.get("date"):
            meaning = date["value"] or f"{date['first']} to {date['last']}"
            print(f"\u201c{date['text']}\u201d means {meaning}")
    agreeing = answer_data.get("agreement") or []
    if agreeing:
        print(f"{1 + len(agreeing)} articles agree.")
    for n, c in enumerate([*answer_data["citations"], *agreeing], start=1):
        _print_citation(n, c)
    also = answer_data.get("also_reported_by") or []
    if also:
        print("Also reported by: " + "; ".join(
            s["title"] + (f" ({s['published']})" if s.get("published") else "") for s in also))
    for alt in answer_data.get("disagreement") or []:
        dated = f", {alt['published']}" if alt.get("published") else ""
        print(f"Other reports say: {alt['answer']}  (confidence {alt['confidence']:.2f}"
              f"{dated}; {STATUS_WORDS[alt['status']]})")
        for c in alt["citations"]:
            _print_citation("-", c)


def _print_citation(mark: int | str, c: dict) -> None:
    dated = f", {c['published']}" if c.get("published") else ""
    dated += f", page {c['page']}" if c.get("page") else ""
    label = f"[{mark}]" if isinstance(mark, int) else f" {mark} "
    print(f"  {label} {c['title']} (document {c['document_id']}{dated}, chars "
          f"{c['start']}-{c['end']})")
    print(f"      \"{c['quote']}\"")


def cmd_ask(args: argparse.Namespace) -> int:
    if args.chat or args.conversation:
        return _chat(args)
    if not args.question:
        print("error: give a question (or --chat)", file=sys.stderr)
        return 2
    server = args.server or os.environ.get("QA_SERVER_URL")
    if server:
        return _ask_server(server, " ".join(args.question), args.top_k, args.json)
    service = open_service()
    if service.corpus.is_empty():
        print(NO_DOCUMENTS, file=sys.stderr)
        return 1
    answer = service.ask(" ".join(args.question), args.top_k)
    _print_answer(describe(answer), args.json)
    return 0


def _ask_server(server: str, question: str, top_k: int | None, as_json: bool) -> int:
    """Ask a running `qa serve` (its models are already loaded: no start-up wait)."""
    import urllib.error
    import urllib.request

    body = {"question": question, **({"top_k": top_k} if top_k else {})}
    headers = {"content-type": "application/json"}
    if os.environ.get("QA_API_KEY"):
        headers["authorization"] = f"Bearer {os.environ['QA_API_KEY']}"
    request = urllib.request.Request(server.rstrip("/") + "/v1/ask", json.dumps(body).encode(),
                                     headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            _print_answer(json.loads(response.read()), as_json)
        return 0
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
        print(f"error: {server} answered {exc.code}: {detail}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"error: cannot reach {server} ({getattr(exc, 'reason', exc)}); is `qa serve` "
              "running there?", file=sys.stderr)
    return 1


def _chat(args: argparse.Namespace) -> int:
    """`qa ask --chat`: a prompt that keeps one conversation (follow-ups are resolved);
    `--conversation ID` continues a stored one. An empty line, `exit` or Ctrl-D ends it."""
    from qa.chat import ConversationNotFound, open_chat

    chat = open_chat(open_service())
    conversation = args.conversation
    pending = [" ".join(args.question)] if args.question else []
    if args.chat:
        print("Chat about the stored articles; an empty line, 'exit' or Ctrl-D ends it.",
              file=sys.stderr)
    while True:
        if pending:
            question = pending.pop(0)
        elif not args.chat:
            break
        else:
            try:
                question = input("> ").strip()
            except (EOFError, KeyboardInterrupt):
                print(file=sys.stderr)
                break
            if not question or question.lower() in ("exit", "quit", "bye"):
                break
        try:
            answer = chat.ask(question, conversation, args.top_k)
        except QuestionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        except ConversationNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        conversation = answer.conversation_id
        _print_answer(describe(answer), args.json)
    if conversation:
        print(f"conversation {conversation} (continue with: qa ask --conversation "
              f"{conversation} ...)", file=sys.stderr)
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    service = open_service()
    if args.delete:
        status = 0
        for doc_id in args.delete:
            if service.delete_document(doc_id):
                print(f"deleted\t{doc_id}")
            else:
                print(f"no document with id {doc_id}", file=sys.stderr)
                status = 1
        return status
    documents = service.corpus.documents()
    if not documents:
        print(NO_DOCUMENTS, file=sys.stderr)
    for d in documents:
        print(f"{d.id}\t{d.passage_count} passages\t{d.published or '-'}\t{d.title}")
    return 0


def port_in_use(host: str, port: int) -> str | None:
    """Why `host:port` cannot be served on (it is taken, or not an address here), else None."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # Checked before minutes of model loading, not after.
    problem = port_in_use(args.host, args.port)
    if problem:
        print(f"error: cannot serve on {args.host}:{args.port}: {problem} (another server "
              f"there? try --port {args.port + 1})", file=sys.stderr)
        return 1

    # By import string: `api` sits above `qa`, so `qa` never imports it.
    uvicorn.run("api.app:app", host=args.host, port=args.port, log_level="info")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdin/stdout, for a local MCP client (Claude Desktop, an IDE...)."""
    from qa.mcp_server import serve_stdio

    serve_stdio()
    return 0


def cmd_migrate_index(args: argparse.Namespace) -> int:
    """Copy the store's passages and vectors into another backend's index (no re-embedding)."""
    from qa.migrate import MigrationError, migrate_index
    from qa.settings import get_settings

    settings = get_settings()
    try:
        done = migrate_index(settings, args.to)
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{done.passages} passages in {done.backend} ({done.seconds} s, "
          f"{done.passages_per_second:.0f} passages/s)")
    if done.without_vector:
        print(f"note: {done.without_vector} passages have no vector of this encoder yet; the "
              "service embeds them when it starts", file=sys.stderr)
    if args.to != settings.backend:
        print(f"set QA_BACKEND={args.to} to search it")
    return 0


# Commands that live in `eval` (which sits above qa), by the module whose main runs them.
DELEGATED = {"eval": "eval.eval_cli", "bench": "eval.bench_cli", "drill": "eval.drill"}


def _delegate(module: str, argv: list[str]) -> int:
    """Hand the remaining arguments to an `eval` module's main (eval sits above qa)."""
    import importlib

    return int(importlib.import_module(module).main(argv) or 0)


def top_k(value: str) -> int:
    """--top-k validated as the API's `top_k` (1..50)."""
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from exc
    if not 1 <= number <= 50:
        raise argparse.ArgumentTypeError(f"{number} is outside 1..50")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add articles (txt, md, html, json, jsonl, pdf, docx, "
                       "folders; RSS/Atom feeds and pages: files or http(s) URLs)")
    p.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question", nargs="*")
    p.add_argument("--top-k", type=top_k, default=None, help="passages to return (1-50, as the API)")
    p.add_argument("--json", action="store_true", help="print the full answer as JSON")
    p.add_argument("--chat", action="store_true",
                   help="interactive: keep asking in one conversation (follow-ups understood)")
    p.add_argument("--conversation", metavar="ID", default=None,
                   help="ask as the next turn of this conversation")
    p.add_argument("--server", metavar="URL", default=None,
                   help="ask a running `qa serve` at URL instead of loading the models here "
                        "(default: $QA_SERVER_URL when set)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("documents", help="list documents, or delete some")
    p.add_argument("--delete", nargs="+", metavar="ID")
    p.set_defaults(func=cmd_documents)

    p = sub.add_parser("serve", help="run the HTTP API and chat page")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve the MCP tools (ask, search, get_document, "
                       "add_document) over stdio, for a local MCP client")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("migrate-index", help="copy the store's passages and their stored vectors"
                       " into another backend's index (no re-embedding; safe to run again)")
    p.add_argument("--to", choices=["milvus", "faiss"], required=True)
    p.set_defaults(func=cmd_migrate_index)

    sub.add_parser("eval", help="evaluate on gold data (qa eval --help)", add_help=False)
    sub.add_parser("bench", help="benchmark speed and memory (qa bench --help)", add_help=False)
    sub.add_parser("drill", help="crash and load drills (qa drill --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Global flags may come first: `qa -v eval squad ...`.
    position = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if position is not None and argv[position] in DELEGATED:
        if "-v" in argv[:position] or "--verbose" in argv[:position]:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return _delegate(DELEGATED[argv[position]], argv[position + 1 :])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
        return status
    except (LoadError, DocumentError, QuestionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `qa documents | head -1`: the reader left; not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
