from embeddings.splitter import PassageSplitter, Region, TextSpan, split_sentences


def test_sentences_keep_offsets_and_never_cross_lines(sample_text: str) -> None:
    spans = split_sentences(sample_text)
    assert len(spans) > 20
    for span in spans:
        piece = sample_text[span.start : span.end]
        assert piece == piece.strip() and piece
        assert "\n" not in piece
    turkey = [sample_text[s.start : s.end] for s in spans if "Turkey" in sample_text[s.start : s.end]]
    # The article has non-breaking spaces; offsets must keep them exactly.
    assert turkey == [
        "Khaled\xa0Mashaal and\xa0Iran’s al-Quds Force commander Qassem Soleimani held a meeting "
        "in Turkey several days after the conflict ended in late August, Saudi daily Al-Hayat "
        "reported."
    ]


def test_passages_group_whole_sentences_with_overlap() -> None:
    sentences = [TextSpan(i * 10, i * 10 + 9) for i in range(10)]
    passages = PassageSplitter(sentences_per_passage=4, overlap=1, max_chars=1000).group(
        [(s, Region(0, 100)) for s in sentences])
    assert [len(p.sentences) for p in passages] == [4, 4, 4]
    assert passages[1].sentences[0] == passages[0].sentences[-1]  # one sentence of overlap
    assert passages[-1].end == sentences[-1].end
    assert [p.ordinal for p in passages] == [0, 1, 2]


def test_max_chars_caps_passage_length() -> None:
    sentences = [TextSpan(i * 100, i * 100 + 99) for i in range(6)]
    passages = PassageSplitter(sentences_per_passage=4, overlap=0, max_chars=250).group(
        [(s, Region(0, 600)) for s in sentences])
    assert all(p.end - p.start <= 250 for p in passages)
    assert sum(len(p.sentences) for p in passages) == 6


def test_a_passage_never_crosses_regions() -> None:
    regions = [Region(0, 20), Region(20, 30, "caption"), Region(40, 70)]  # 30-40 left out
    sentences = [(TextSpan(i * 10, i * 10 + 9), r) for i, r in
                 enumerate([regions[0], regions[0], regions[1], regions[2], regions[2], regions[2]])]
    passages = PassageSplitter(sentences_per_passage=4, overlap=1, max_chars=1000).group(sentences)
    assert [(p.label, len(p.sentences)) for p in passages] == [("body", 2), ("caption", 1),
                                                                ("body", 3)]
    assert [p.ordinal for p in passages] == [0, 1, 2]


def test_only_the_regions_given_are_split() -> None:
    text = "search\nThe minister arrived on Monday. She spoke.\nA photo of her. (AP Photo/X Y)\n"
    body_start = text.index("The")
    caption_start = text.index("A photo")
    regions = [Region(body_start, caption_start - 1, "body"),
               Region(caption_start, len(text) - 1, "caption")]
    passages = PassageSplitter(sentences_per_passage=4, overlap=1).split(text, regions)
    assert [(p.label, text[p.start : p.end]) for p in passages] == [
        ("body", "The minister arrived on Monday. She spoke."),
        ("caption", "A photo of her. (AP Photo/X Y)")]
