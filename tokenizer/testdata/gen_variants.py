#!/usr/bin/env python3
"""Generate the tokenizer-variant sweep fixtures (tokenizer/testdata/variants).

Builds small tokenizer.json files whose pipelines mirror real model families
(GPT-2, Phi-2, Qwen2/3, Llama 3, Gemma, Llama 2 / Mistral / Phi-3 legacy and
Metaspace forms, BERT cased/uncased, CLIP-like suffix BPE, ...) plus
single-component variants (every Split behaviour, Digits, Punctuation,
normalizers, added-token flags), trains each on a slice of the corpus with a
small vocabulary, and records Hugging Face tokenizers' output as the reference.

Run from the repository root with the project's venv (needs `tokenizers`):

    python tokenizer/testdata/gen_variants.py [path/to/corpus.jsonl.xz]

Output: tokenizer/testdata/variants/<name>.tokenizer.json.gz and
texts.json.gz (the shared input texts) and <name>.golden.json.gz.
HF's trainers break frequency ties in hash order, so a rerun may produce
slightly different vocabularies (with matching goldens); commit both together.
Not covered: pairs (our Encode takes one sequence), BPE dropout (random in HF),
Precompiled normalizer (treated as identity), Unigram (expected load error).
"""
import gzip
import json
import lzma
import os
import random
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer
from tokenizers import decoders as D
from tokenizers import models as M
from tokenizers import normalizers as N
from tokenizers import pre_tokenizers as P
from tokenizers import processors as PP
from tokenizers import trainers as T

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "variants")
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "corpus", "corpus.jsonl.xz")

GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
QWEN2_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def read_corpus():
    lines = []
    with lzma.open(CORPUS, "rt", encoding="utf-8") as f:
        for rec in f:
            lines.append(json.loads(rec)["text"])
            if len(lines) >= 4000:
                break
    return lines


RECS = read_corpus()
TRAIN = []
for r in RECS[:1500]:
    TRAIN.extend(x for x in r.split("\n") if x)
TRAIN = TRAIN[:6000]
# a few lines of other scripts so that some non-Latin merges exist
TRAIN += ["café naïve résumé façade", "Привет мир, привет", "你好世界，大语言模型。", "مرحبا بالعالم", "12345 67890 3.14159"] * 20

rng = random.Random(1234)
CORPUS_TEXTS = []
for r in RECS[2000:4000]:
    if len(CORPUS_TEXTS) >= 200:
        break
    if len(r) < 10:
        continue
    a = rng.randrange(0, max(1, len(r) - 40))
    CORPUS_TEXTS.append(r[a:a + rng.randrange(8, 120)])

TRICKY = [
    "", " ", "  ", "   ", "\n", "\n\n", "\n\n\n", "\t", " \t \n ", "\r\n", "a\r\nb\r\n\r\nc", "mixed\r\nline\rendings\n",
    "a", "A", "hello", " hello", "hello ", "  hello  world  ", "Hello, world!", "Hello\n\nworld", "line one\nline two\n",
    "I'm don't you'll we've they're she'd I'M DON'T", "it's 'quoted' and ''double''",
    "12345 67 8 9000000 3.14159 -2e10", "1,000,000 lives", "abc123def 4567x", "٣٤٥ ①②③ ²³",
    "    indented code\n\tdef f(x):\n\t\treturn x**2  # comment", "a  b   c    d", "trailing spaces   ",
    "...!!!??? --- (a) [b] {c} <d>", "$100 & 50% off #hash @user ~tilde ^caret |pipe \\back",
    "café naïve résumé façade Æsir Øresund", "combining e\u0301 vs \u00e9, a\u0308o\u0308", "ﬁ ligature ＦＵＬＬＷＩＤＴＨ ½ ℌ",
    "Привет, мир!", "Γειά σου Κόσμε", "你好，世界。大语言模型", "こんにちは世界 カタカナ", "안녕하세요", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "emoji 😀🎉👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flag 🇺🇸", "zero\u200bwidth", "\xa0nbsp\u2009thin\u3000ideo", "\x00\x01 control\x7f\x0b\x0c",
    "<|endoftext|>", "<s>", "</s>", "<unk>", "<pad>", "<bos>", "<eos>", "[CLS] [SEP] [MASK] [UNK]", "<|im_start|>user\nhi<|im_end|>",
    "<|begin_of_text|>hi<|eot_id|>", "text<s>inside</s>text", " <s> spaced </s> ", "a<mask>b <mask> c<mask> d", "<|assistant|>  ok <|end|>\n",
    "hello world Hello World HELLO", "The year 1813. The year 2026.", "https://example.com/path?q=1&r=two#frag", "user@example.org",
    "▁already▁meta ▁", "a-b-c--d", "snake_case camelCase kebab-case", "\u2581\u2581x", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "supercalifragilisticexpialidocious antidisestablishmentarianism", "tab\there\tand\t\tthere", " leading", "trailing ",
]
TEXTS = TRICKY + CORPUS_TEXTS


def bytes_vocab():
    return ["<0x%02X>" % i for i in range(256)]


def bpe_train(tk, vocab=400, special=(), **kw):
    tr = T.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False, special_tokens=list(special), **kw)
    tk.train_from_iterator(TRAIN, tr)
    return tk


def patch(tk, fn):
    """Round-trip the tokenizer through its JSON to set fields the Python API does not expose."""
    j = json.loads(tk.to_str())
    fn(j)
    return Tokenizer.from_str(json.dumps(j, ensure_ascii=False))


def add_byte_fallback(j):
    v = j["model"]["vocab"]
    n = max(v.values()) + 1
    for b in bytes_vocab():
        if b not in v:
            v[b] = n
            n += 1
    j["model"]["byte_fallback"] = True


def tid(tk, s):
    i = tk.token_to_id(s)
    assert i is not None, s
    return i


VARIANTS = {}


def variant(f):
    VARIANTS[f.__name__.replace("_", "-")] = f
    return f


# ---- byte-level families -------------------------------------------------

def gpt2_base(add_prefix_space=False, trim=False, vocab=500):
    tk = Tokenizer(M.BPE())
    tk.pre_tokenizer = P.ByteLevel(add_prefix_space=add_prefix_space)
    tk.decoder = D.ByteLevel()
    bpe_train(tk, vocab, ["<|endoftext|>"], initial_alphabet=P.ByteLevel.alphabet())
    tk.post_processor = PP.ByteLevel(trim_offsets=trim)
    return tk


@variant
def gpt2():
    return gpt2_base()


@variant
def gpt2_prefix_trim():
    return gpt2_base(add_prefix_space=True, trim=True)


@variant
def phi2():
    # Phi-2 / CodeGen: GPT-2 plus non-special added whitespace-run tokens
    tk = gpt2_base()
    tk.add_tokens([AddedToken(" " * k, normalized=True, special=False) for k in (2, 3, 4, 8)])
    tk.add_tokens([AddedToken("\t\t", normalized=False, special=False)])
    return tk


@variant
def roberta():
    tk = Tokenizer(M.BPE())
    tk.pre_tokenizer = P.ByteLevel(add_prefix_space=False)
    tk.decoder = D.ByteLevel()
    bpe_train(tk, 450, ["<s>", "<pad>", "</s>", "<unk>"], initial_alphabet=P.ByteLevel.alphabet())
    tk.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)])
    tk.post_processor = PP.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    return tk


def split_bytelevel(pat, nfc, vocab, specials, bos=None):
    tk = Tokenizer(M.BPE(ignore_merges=bos is not None))
    if nfc:
        tk.normalizer = N.NFC()
    tk.pre_tokenizer = P.Sequence([P.Split(Regex(pat), behavior="isolated", invert=False),
                                   P.ByteLevel(add_prefix_space=False, use_regex=False)])
    tk.decoder = D.ByteLevel()
    bpe_train(tk, vocab, [], initial_alphabet=P.ByteLevel.alphabet())
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if bos:
        tk.post_processor = PP.Sequence([
            PP.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
            PP.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                                  special_tokens=[(bos, tid(tk, bos))])])
    else:
        tk.post_processor = PP.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tk


@variant
def qwen2():
    tk = split_bytelevel(QWEN2_PAT, True, 500, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tk.add_tokens([AddedToken("<think>", special=False, normalized=False), AddedToken("</think>", special=False, normalized=False)])
    return tk


@variant
def llama3_bos():
    return split_bytelevel(LLAMA3_PAT, False, 500, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], bos="<|begin_of_text|>")


@variant
def bytelevel_noregex():
    tk = Tokenizer(M.BPE())
    tk.pre_tokenizer = P.ByteLevel(add_prefix_space=True, use_regex=False)
    tk.decoder = D.ByteLevel()
    bpe_train(tk, 350, ["<|endoftext|>"], initial_alphabet=P.ByteLevel.alphabet())
    tk.post_processor = PP.ByteLevel(trim_offsets=True)
    return tk


# ---- SentencePiece-style BPE ---------------------------------------------

def gemma_base(ignore_merges):
    tk = Tokenizer(M.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True, ignore_merges=ignore_merges))
    tk.normalizer = N.Replace(" ", "▁")
    tk.decoder = D.Sequence([D.Replace("▁", " "), D.ByteFallback(), D.Fuse()])
    # training needs a word split; trained on ▁-joined text, the model then sees whole lines
    tk.pre_tokenizer = P.Metaspace(prepend_scheme="never")
    bpe_train(tk, 500, ["<pad>", "<eos>", "<bos>", "<unk>"])
    tk = patch(tk, add_byte_fallback)
    tk.pre_tokenizer = None
    tk.add_special_tokens([AddedToken("<start_of_turn>", special=True, normalized=False),
                           AddedToken("<end_of_turn>", special=True, normalized=False)])
    tk.add_tokens([AddedToken("\n\n", special=False, normalized=False), AddedToken("▁▁", special=False, normalized=True)])
    tk.post_processor = PP.TemplateProcessing(single="<bos>:0 $A:0", pair="<bos>:0 $A:0 <bos>:1 $B:1",
                                              special_tokens=[("<bos>", tid(tk, "<bos>"))])
    return tk


@variant
def gemma():
    return gemma_base(False)


@variant
def gemma_ignore_merges():
    return gemma_base(True)


def llama2_base(fuse_unk=True, byte_fallback=True, extra=()):
    tk = Tokenizer(M.BPE(byte_fallback=byte_fallback, unk_token="<unk>", fuse_unk=fuse_unk))
    tk.pre_tokenizer = P.Metaspace(prepend_scheme="always")
    bpe_train(tk, 450, ["<unk>", "<s>", "</s>"])
    if byte_fallback:
        tk = patch(tk, add_byte_fallback)
    tk.pre_tokenizer = None
    tk.normalizer = N.Sequence([N.Prepend("▁"), N.Replace(" ", "▁")])
    tk.decoder = D.Sequence([D.Replace("▁", " "), D.ByteFallback(), D.Fuse(), D.Strip(" ", 1, 0)])
    tk.post_processor = PP.TemplateProcessing(single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1",
                                              special_tokens=[("<s>", tid(tk, "<s>"))])
    tk.add_special_tokens(list(extra))
    return tk


@variant
def llama2_legacy():
    return llama2_base()


@variant
def llama2_nofuse_nobytes():
    return llama2_base(fuse_unk=False, byte_fallback=False)


@variant
def phi3():
    ex = [AddedToken("<|endoftext|>", special=True, normalized=False),
          AddedToken("<|assistant|>", special=True, rstrip=True, normalized=False),
          AddedToken("<|end|>", special=True, rstrip=True, normalized=False),
          AddedToken("<|user|>", special=True, lstrip=True, rstrip=True, normalized=False)]
    tk = llama2_base(extra=ex)
    # Phi-3's own tokenizer has non-special added tokens too
    tk.add_tokens([AddedToken("<|placeholder1|>", special=False, normalized=False)])
    return tk


def metaspace_base(scheme, split, vocab=400):
    tk = Tokenizer(M.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tk.pre_tokenizer = P.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
    tk.decoder = D.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
    bpe_train(tk, vocab, ["<unk>", "<s>", "</s>"])
    tk = patch(tk, add_byte_fallback)
    tk.post_processor = PP.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", tid(tk, "<s>"))])
    return tk


@variant
def mistral_metaspace_first():
    # Llama / Mistral tokenizer.json with legacy=false: Metaspace(prepend_scheme first, split false)
    tk = metaspace_base("first", False)
    return tk


@variant
def metaspace_legacy_json():
    # files written before prepend_scheme existed: Metaspace(add_prefix_space=true)
    def old(j):
        for k in ("pre_tokenizer", "decoder"):
            j[k] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    return patch(metaspace_base("always", True), old)


@variant
def metaspace_always_split():
    return metaspace_base("always", True)


@variant
def metaspace_never_split():
    return metaspace_base("never", True)


@variant
def metaspace_first_split():
    return metaspace_base("first", True)


# ---- WordPiece ---------------------------------------------------------------

def wp_train(tk, vocab=500, prefix="##"):
    tr = T.WordPieceTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], continuing_subword_prefix=prefix)
    tk.train_from_iterator(TRAIN, tr)
    return tk


@variant
def bert_cased():
    tk = Tokenizer(M.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tk.normalizer = N.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False)
    tk.pre_tokenizer = P.BertPreTokenizer()
    tk.decoder = D.WordPiece(prefix="##", cleanup=True)
    wp_train(tk)
    tk.post_processor = PP.BertProcessing(("[SEP]", tid(tk, "[SEP]")), ("[CLS]", tid(tk, "[CLS]")))
    return tk


@variant
def bert_uncased_keepaccents():
    tk = Tokenizer(M.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tk.normalizer = N.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True)
    tk.pre_tokenizer = P.BertPreTokenizer()
    tk.decoder = D.WordPiece(prefix="##", cleanup=True)
    wp_train(tk)
    tk.post_processor = PP.TemplateProcessing(single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                              special_tokens=[("[CLS]", tid(tk, "[CLS]")), ("[SEP]", tid(tk, "[SEP]"))])
    tk.add_special_tokens([AddedToken("[MASK]", lstrip=True, special=True, normalized=False)])
    return tk


@variant
def bert_stripaccents_nochinese_noclean():
    tk = Tokenizer(M.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
    tk.normalizer = N.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    tk.pre_tokenizer = P.BertPreTokenizer()
    tk.decoder = D.WordPiece(prefix="##", cleanup=False)
    wp_train(tk)
    tk.post_processor = PP.BertProcessing(("[SEP]", tid(tk, "[SEP]")), ("[CLS]", tid(tk, "[CLS]")))
    return tk


@variant
def wordpiece_whitespace_nfd():
    tk = Tokenizer(M.WordPiece(unk_token="[UNK]"))
    tk.normalizer = N.Sequence([N.NFD(), N.Lowercase(), N.StripAccents()])
    tk.pre_tokenizer = P.Whitespace()
    tk.decoder = D.WordPiece(prefix="##", cleanup=True)
    wp_train(tk, 400)
    tk.add_tokens([AddedToken("hello world", special=False, normalized=True, single_word=True),
                   AddedToken("HeLLo", special=False, normalized=True)])
    return tk


@variant
def wordpiece_wssplit_nfkc():
    tk = Tokenizer(M.WordPiece(unk_token="[UNK]", max_input_chars_per_word=10))
    tk.normalizer = N.Sequence([N.NFKC(), N.Strip(left=True, right=True)])
    tk.pre_tokenizer = P.WhitespaceSplit()
    tk.decoder = D.WordPiece(prefix="##", cleanup=False)
    wp_train(tk, 400)
    return tk


# ---- other BPE options and component sweeps ------------------------------------

@variant
def bpe_eow_suffix():
    # CLIP-like: end_of_word_suffix with a BPEDecoder
    tk = Tokenizer(M.BPE(unk_token="<|unk|>", end_of_word_suffix="</w>"))
    tk.normalizer = N.Sequence([N.NFC(), N.Replace(Regex(r"\s+"), " "), N.Lowercase()])
    tk.pre_tokenizer = P.Sequence([P.Split(Regex(r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"), behavior="removed", invert=True)])
    tk.decoder = D.BPEDecoder(suffix="</w>")
    bpe_train(tk, 450, ["<|unk|>", "<|startoftext|>", "<|endoftext|>"], end_of_word_suffix="</w>")
    tk.post_processor = PP.RobertaProcessing(("<|endoftext|>", tid(tk, "<|endoftext|>")), ("<|startoftext|>", tid(tk, "<|startoftext|>")),
                                             trim_offsets=False, add_prefix_space=False)
    return tk


@variant
def bpe_subword_prefix():
    tk = Tokenizer(M.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    tk.pre_tokenizer = P.Whitespace()
    tk.decoder = D.WordPiece(prefix="##")
    bpe_train(tk, 450, ["[UNK]"], continuing_subword_prefix="##")
    return tk


@variant
def bpe_no_unk():
    # no unk_token: unknown characters are dropped
    tk = Tokenizer(M.BPE())
    tk.pre_tokenizer = P.WhitespaceSplit()
    bpe_train(tk, 300, [])
    return tk


@variant
def wordlevel():
    tk = Tokenizer(M.WordLevel(unk_token="<unk>"))
    tk.normalizer = N.Lowercase()
    tk.pre_tokenizer = P.Sequence([P.Whitespace(), P.Digits(individual_digits=True)])
    tk.train_from_iterator(TRAIN, T.WordLevelTrainer(vocab_size=400, min_frequency=2, show_progress=False, special_tokens=["<unk>"]))
    return tk


def fallback_model(pre, norm=None, vocab=300):
    """A byte-fallback BPE model (every input tokenizes) under a given pre-tokenizer."""
    tk = Tokenizer(M.BPE(byte_fallback=True, unk_token="<unk>"))
    tk.pre_tokenizer = P.Whitespace()
    bpe_train(tk, vocab, ["<unk>"])
    tk = patch(tk, add_byte_fallback)
    tk.pre_tokenizer = pre
    tk.normalizer = norm
    tk.decoder = D.Sequence([D.ByteFallback(), D.Fuse()])
    return tk


SPLIT_PAT = Regex(r"\s+|[,.;:!?]")


@variant
def split_behaviors_a():
    return fallback_model(P.Sequence([P.Split(SPLIT_PAT, "removed"), P.Split(Regex(r"\d+"), "isolated")]))


@variant
def split_behaviors_b():
    return fallback_model(P.Sequence([P.Split(SPLIT_PAT, "merged_with_previous"), P.Split(Regex(r"[aeiou]"), "merged_with_next")]))


@variant
def split_behaviors_c():
    return fallback_model(P.Sequence([P.Split(" ", "contiguous"), P.Split(Regex(r"\p{L}+"), "isolated", invert=True)]))


@variant
def split_behaviors_invert():
    return fallback_model(P.Sequence([P.Split(Regex(r"\w+"), "removed", invert=True), P.Split(Regex(r"[a-m]+"), "merged_with_next", invert=True),
                                      P.Split(Regex(r"e"), "merged_with_previous", invert=True), P.Split("o", "contiguous", invert=True)]))


@variant
def digits_punct():
    return fallback_model(P.Sequence([P.WhitespaceSplit(), P.Digits(individual_digits=False), P.Punctuation("contiguous")]))


@variant
def digits_individual_punct():
    return fallback_model(P.Sequence([P.Whitespace(), P.Digits(individual_digits=True), P.Punctuation("merged_with_previous"),
                                      P.Punctuation("merged_with_next"), P.Punctuation("removed")]))


@variant
def chardelim_unicodescripts():
    return fallback_model(P.Sequence([P.CharDelimiterSplit("-"), P.UnicodeScripts()]))


@variant
def unicodescripts():
    return fallback_model(P.UnicodeScripts())


@variant
def normalizers_nfkd_strip():
    return fallback_model(P.WhitespaceSplit(), N.Sequence([N.NFKD(), N.StripAccents(), N.Strip(left=False, right=True), N.Lowercase()]))


@variant
def normalizers_nfd_replace():
    return fallback_model(P.Whitespace(), N.Sequence([N.NFD(), N.Replace(Regex(r"[0-9]"), "#"), N.Replace("ab", "X"), N.Strip(left=True, right=False)]))


@variant
def normalizer_bytelevel():
    tk = Tokenizer(M.BPE())
    tk.normalizer = N.ByteLevel()
    tk.pre_tokenizer = P.Split(Regex(r"Ġ|Ċ"), "merged_with_next")
    tk.decoder = D.ByteLevel()
    bpe_train(tk, 350, [], initial_alphabet=P.ByteLevel.alphabet())
    return tk


@variant
def added_tokens_flags():
    tk = fallback_model(P.Metaspace(prepend_scheme="always"), N.Lowercase())
    tk.decoder = D.Sequence([D.Metaspace(), D.ByteFallback(), D.Fuse()])
    tk.add_special_tokens([AddedToken("<s>", special=True, normalized=False),
                           AddedToken("</s>", special=True, normalized=False, lstrip=True, rstrip=True),
                           AddedToken("<mask>", special=True, normalized=True, lstrip=True),
                           AddedToken("[SPEC]", special=True, normalized=True)])
    tk.add_tokens([AddedToken("hello", single_word=True, normalized=True, special=False),
                   AddedToken("World", single_word=False, normalized=True, special=False),
                   AddedToken("HeLLo", normalized=False, special=False, rstrip=True),
                   AddedToken("ing", single_word=True, normalized=False, special=False, lstrip=True),
                   AddedToken("o w", normalized=True, special=False),
                   AddedToken("de", normalized=False, special=False)])
    tk.post_processor = PP.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
                                              special_tokens=[("<s>", tid(tk, "<s>")), ("</s>", tid(tk, "</s>"))])
    return tk


@variant
def unigram():
    tk = Tokenizer(M.Unigram())
    tk.pre_tokenizer = P.Metaspace()
    tk.train_from_iterator(TRAIN[:2000], T.UnigramTrainer(vocab_size=300, show_progress=False, special_tokens=["<unk>"], unk_token="<unk>"))
    return tk


def record(name, tk):
    cases = []
    for ti, text in enumerate(TEXTS):
        for add in (False, True):
            enc = tk.encode(text, add_special_tokens=add)
            ids = list(enc.ids)
            cases.append({"t": ti, "add": add, "ids": ids, "tokens": list(enc.tokens), "offsets": [list(o) for o in enc.offsets],
                          "decoded": tk.decode(ids, skip_special_tokens=False),
                          "decoded_skip": tk.decode(ids, skip_special_tokens=True)})
    return {"tokenizer": name, "tokenizers_version": tokenizers.__version__, "cases": cases}


def write_gz(path, obj):
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as g:
            g.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_gz(os.path.join(OUT, "texts.json.gz"), TEXTS)
    only = set(sys.argv[2:])
    for name, f in VARIANTS.items():
        if only and name not in only:
            continue
        tk = f()
        js = json.loads(tk.to_str())
        write_gz(os.path.join(OUT, name + ".tokenizer.json.gz"), js)
        write_gz(os.path.join(OUT, name + ".golden.json.gz"), record(name, Tokenizer.from_str(tk.to_str())))
        print(name, len(js["model"]["vocab"]))


if __name__ == "__main__":
    main()
