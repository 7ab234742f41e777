"""The `qa` command as people use it: an empty store, a closed pipe, a taken port, and the same
validation as the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main as qa_main
from qa.settings import get_settings
from qa.storage.documents import DocumentStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_an_empty_store_says_how_to_add_documents(data_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["documents"]) == 0
    assert "No documents yet" in capsys.readouterr().err
    assert qa_main(["ask", "where did they meet?"]) == 1
    out, err = capsys.readouterr()
    assert "qa ingest" in err and "The articles do not say" not in out


def test_a_closed_pipe_is_not_a_traceback(data_dir: Path) -> None:
    store = DocumentStore(data_dir / "qa.sqlite3")
    for i in range(3):
        store.add_document(title=f"Doc {i}", text=f"Text {i}.", url=None, published=None,
                           passages=[], vectors=np.zeros((0, 384), np.float32), input_hashes=[],
                           model="none")
    store.close()
    read, write = os.pipe()
    os.close(read)  # like `| head -1` after its line: every write now fails with EPIPE
    done = subprocess.run([sys.executable, "-m", "qa.cli", "documents"], stdout=write,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "QA_DATA_DIR": str(data_dir)})
    os.close(write)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Broken" not in done.stderr


def test_serve_on_a_taken_port_fails_at_once(data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert qa_main(["serve", "--port", str(port)]) == 1
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "51", "x"])
def test_top_k_is_validated_like_the_api(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        qa_main(["ask", "--top-k", value, "where?"])
    assert exited.value.code == 2 and "--top-k" in capsys.readouterr().err


def test_ask_a_running_server(api_env: Path, sample_text: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    import uvicorn
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app()
    with TestClient(app) as client:
        added = client.post("/v1/documents", json={"title": "Report", "text": sample_text})
        assert added.status_code == 201, added.text
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # log_config=None: uvicorn's own logging config would close every existing handler,
    # among them absl's (imported by rouge-score), whose stream is pytest's captured stderr
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            thread.join(0.1)
        code = qa_main(["ask", "--server", f"http://127.0.0.1:{port}", "where did they meet?"])
        out, err = capsys.readouterr()
        assert code == 0 and out.startswith("Turkey") and "[1]" in out, (code, out, err)
        assert qa_main(["ask", "--server", f"http://127.0.0.1:{port}", " "]) == 1
        assert "answered 422" in capsys.readouterr().err
    finally:
        server.should_exit = True
        thread.join(10)
    assert qa_main(["ask", "--server", f"http://127.0.0.1:{port}", "where?"]) == 1
    assert "cannot reach" in capsys.readouterr().err
