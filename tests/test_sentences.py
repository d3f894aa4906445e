from kbert.data.sentences import split_sentences


def test_basic_and_titles():
    assert split_sentences('Mr. Darcy smiled. "Is it so?" said Mrs. Bennet. She left.') == [
        "Mr. Darcy smiled.", '"Is it so?" said Mrs. Bennet.', "She left."]


def test_abbreviations_and_initials():
    out = split_sentences("Ask Dr. Smith, e.g. the surgeon, i.e. him. J. R. R. Tolkien wrote it. Done.")
    assert out == ["Ask Dr. Smith, e.g. the surgeon, i.e. him.", "J. R. R. Tolkien wrote it.", "Done."]


def test_quotes_and_terminals():
    out = split_sentences('"Stop!" she said. "Go." He went! Why? 3 left... Then (it rained.) Later')
    assert out == ['"Stop!" she said.', '"Go."', "He went!", "Why?", "3 left...", "Then (it rained.)", "Later"]


def test_whitespace_and_empty():
    assert split_sentences("  \n ") == []
    assert split_sentences("One.\n\nTwo  lines\nhere.") == ["One.", "Two lines here."]
    assert split_sentences("no terminal punctuation") == ["no terminal punctuation"]
