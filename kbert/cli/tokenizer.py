"""Train a WordPiece vocabulary (BERT, DistilBERT) or a SentencePiece model (ALBERT) from a corpus.

The output folder loads with `kbert.tokenizers.from_folder(DIR, family)` and is what `kbert pretrain
--tokenizer DIR` and the TFLite export use.

examples:
  kbert tokenizer train --kind wordpiece --corpus bundled --vocab-size 8000 --out runs/wordpiece
  kbert tokenizer train --kind sentencepiece --corpus my_texts/ --vocab-size 8000 --out runs/spm
  kbert tokenizer train --kind wordpiece --corpus tfds:wikipedia/20230601.en --vocab-size 30522 --out runs/wp
"""


def add_arguments(p):
    p.add_argument("--kind", choices=["wordpiece", "sentencepiece"], required=True,
                   help="wordpiece for BERT/DistilBERT, sentencepiece for ALBERT")
    p.add_argument("--corpus", default="bundled",
                   help="'bundled' (Jane Austen), a text file, a folder of text files, or tfds:NAME[:SPLIT]")
    p.add_argument("--vocab-size", type=int, default=8000, help="target vocabulary size (default 8000)")
    p.add_argument("--out", required=True, help="output folder (vocab.txt or spiece.model + tokenizer_config.json)")
    p.add_argument("--max-documents", type=int, default=None, help="use only the first N documents")


def validate(args):
    """Checks before anything is imported (kbert.cli runs this before `run`)."""
    from kbert.validation import check_range

    check_range("vocab_size", args.vocab_size, low=10)
    check_range("max_documents", args.max_documents, low=1)


def run(args):
    import json
    import sys
    import time

    from kbert import tokenizer_training

    t = time.time()
    tok = tokenizer_training.train(args.kind, args.corpus, args.vocab_size, args.out,
                                   max_documents=args.max_documents)
    result = {"ok": True, "kind": args.kind, "vocab_size": int(tok.vocabulary_size()), "out": args.out,
              "seconds": round(time.time() - t, 1)}
    if result["vocab_size"] < args.vocab_size // 2:  # a corpus too small for the size asked for
        result["warning"] = (f"the corpus gave only {result['vocab_size']} tokens of the {args.vocab_size} asked "
                             "for; a tokenizer this small splits most words into single characters. Use a larger "
                             "corpus (or a smaller --vocab-size on purpose)")
        print(f"kbert: warning: {result['warning']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    elif not args.quiet:
        print(f"trained a {args.kind} tokenizer with {result['vocab_size']} tokens in {result['seconds']} s "
              f"-> {args.out}")
    return 0
