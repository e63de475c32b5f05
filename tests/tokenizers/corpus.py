"""A deterministic corpus of hard tokenizer inputs, assembled in code.

Hand-written fragments (one list per kind of difficulty) are combined with a
seeded RNG: concatenations with odd separators, character-level mutations
(insertions of control/zero-width/combining characters, deletions, case
flips, duplication), special-token strings spliced into text, long words and
random code points from selected Unicode blocks. Nothing is downloaded; the
same seed gives the same list on every machine and Python version (only
``random.Random`` with an explicit seed and list indexing are used).

``build_corpus()`` returns at least 10,000 strings, the empty string first;
``build_pairs()`` returns (first, second) pairs drawn from it.
"""

from __future__ import annotations

import random

SEED = 20240611
CORPUS_SIZE = 10_000

PROSE = [
    "Hello world",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's not butter; it's margarine.",
    "She said: \"Don't go there!\" and left.",
    "It was the best of times, it was the worst of times.",
    "Mr. O'Neil's dog (a 3-year-old beagle) isn't here.",
    "e.g. i.e. etc. vs. a.m. p.m. U.S.A. Ph.D.",
    "HuggingFace is creating a tool that democratizes AI.",
    "UNAFFABLE unaffable Unaffable un-affable",
    "Transformers provides thousands of pretrained models.",
    "The model's accuracy was 93.4% on the held-out set.",
    "   leading spaces and trailing spaces   ",
    "multiple     internal     spaces",
    "tabs\tbetween\twords\tand\t\ttabs",
    "line one\nline two\r\nline three\rline four",
    "paragraph one.\n\nparagraph two.\n\n\n\nparagraph three.",
    "why??? because!!! okay... fine;;; well---maybe",
    "A sentence with a hyphenated-word and an em—dash and an en–dash.",
    "“Smart quotes” and ‘single smart quotes’ and «guillemets» and „low quotes“",
    "naïve café résumé coöperate façade jalapeño piñata Ångström",
    "Ça va? Où est la bibliothèque? Je suis allé à l'école.",
    "Straße, Größe, weiß, Fußball, STRASSE",
    "İstanbul ılık ISPARTA iğne ĞÜŞİÖÇ",
    "ΣΟΦΟΣ σοφός ΟΔΥΣΣΕΥΣ Ὀδυσσεύς ἄνθρωπος",
    "Москва — столица России. Привет, мир!",
    "Україна, Беларусь, Қазақстан, Монгол Улс",
    "Ελληνικά: Καλημέρα κόσμε",
    "Tiếng Việt có dấu: Người Việt Nam, phở bò.",
    "Polski: Zażółć gęślą jaźń. Čeština: Příliš žluťoučký kůň.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
]

PUNCTUATION = [
    "!!!", "???", "...", "…", "?!?!", "---", "___", "***", "###", "@@@", "$$$", "%%%",
    "((()))", "[[]]", "{{}}", "<<>>", "''", '""', "``", "~~~", "^^^", "|||", "\\\\", "//",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "¡¿«»‹›„“”‘’‚—–‐‑‒―•·‥…‰′″‴※‼⁇⁈⁉", "。、「」『』【】〔〕！？：；，．", "،؛؟٪٫٬", "।॥",
    "¶§†‡©®™°±×÷¬¦µ", "∀∂∃∅∇∈∉∋∏∑−∗√∝∞∠∧∨∩∪∫≈≠≡≤≥⊂⊃⊆⊇⊕⊗",
]

ACCENTS = [
    "e\u0301", "a\u0300\u0301\u0302\u0303", "n\u0303", "A\u030a", "o\u0308\u0304", "\u0301leading combining",
    "Z\u0351\u0352\u0353a\u0354\u0355\u0356l\u0357\u0358\u0359g\u035a\u035bo\u035c\u035d",
    "café", "cafe\u0301", "ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ", "Ǆ ǅ ǆ Ǳ ǲ ǳ", "ŉ ſ ẞ ß", "Å Å Å",
    "ḱṷṓn ẘ ẙ", "ǰ ΐ ΰ", "\u1e9b\u0323", "Ⅻ ⅻ ① ⑳ ⒜ ㊿", "x² y³ z¹⁰ H₂O", "½ ¼ ¾ ⅓ ⅞",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ｶﾀｶﾅ ﾊﾟﾋﾟﾌﾟ ｶﾞｷﾞ", "㍻ ㌀ ㎏ ㏄", "ℌℑℜ ℂℍℕℙℚℝℤ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 𝕯𝖔𝖚𝖇𝖑𝖊",
]

CJK = [
    "今天天气很好，我们去公园散步吧。", "我爱北京天安门", "中文English混合mixed文本",
    "東京都に住んでいます。ひらがなとカタカナ、漢字。", "日本語のテキスト：「こんにちは」", "ｶﾞｷﾞ がぎ",
    "한국어 텍스트입니다. 안녕하세요!", "한글 자모 ᄀᄁᄂ ㄱㄲㄴ", "𠀀𠀁𠀂 𪚥 𩸽", "⺀⺁ ⼀⼁ 〇〡〢",
    "㐀㐁 豈更 丽丸", "中華人民共和國 臺灣 香港", "漢字かな交じり文ですよ",
]

THAI_INDIC = [
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ", "สวัสดีครับ ขอบคุณค่ะ", "กำ ทำ น้ำ", "ພາສາລາວ", "ភាសាខ្មែរ",
    "हिन्दी भाषा देवनागरी लिपि में लिखी जाती है।", "क्षत्रिय श्री ज्ञान", "বাংলা ভাষা", "தமிழ் மொழி",
    "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "ગુજરાતી", "ਪੰਜਾਬੀ", "සිංහල", "မြန်မာဘာသာ", "ትግርኛ ኣማርኛ", "ᠮᠣᠩᠭᠣᠯ",
    "ཀ་ཁ་ག", "ꦧꦱꦗꦮ",
]

RTL = [
    "مرحبا بالعالم", "اللغة العربية جميلة جداً", "السَّلَامُ عَلَيْكُمْ", "ﻻ ﻷ ﻹ ﻵ", "٠١٢٣٤٥٦٧٨٩",
    "שלום עולם", "עִבְרִית", "فارسی زبان زیبایی است", "اردو زبان", "ܣܘܪܝܝܐ", "ދިވެހި",
    "English then عربي then English", "\u202eright-to-left override\u202c", "\u200fRLM\u200e LRM",
    "abc \u2067isolate\u2069 def", "123 ١٢٣ ۱۲۳",
]

EMOJI = [
    "😀", "😀😃😄😁", "👍🏽", "👍🏻👍🏼👍🏽👍🏾👍🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🏴‍☠️",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🇫🇷🇯🇵🇺🇸", "❤️", "❤\ufe0e", "1️⃣ #️⃣ *️⃣", "🧑🏾‍🤝‍🧑🏼", "I ❤️ NY 🗽!",
    "emoji😀inside😀words", "🤗 Hugging Face", "☃ ☂ ✈ ✓ ✗ ★ ☆", "🀄 🃏 🎴",
]

CONTROL = [
    "\x00", "a\x00b", "\x01\x02\x03", "\x07bell", "\x08backspace", "\x0b\x0c", "\x1b[31mred\x1b[0m",
    "\x7f", "\x80\x85\x9f", "\u00ad", "soft\u00adhyphen", "zero\u200bwidth\u200bspace",
    "\u200c\u200d", "wo\u200drd", "\u2060word\u2060joiner", "\ufeffBOM", "\ufeff", "\u2028\u2029",
    "\ue000\uf8ff", "\U000f0000", "\ufff0\ufffd", "\ufffc", "\U000e0041\U000e007f", "\u180e",
    "\u034f", "\u115f\u1160", "\u3164", "\uffa0",
]

WHITESPACE = [
    " ", "  ", "\t", "\n", "\r\n", "\r", " \t \n ", "\n\n\n", "\t\t\t\t", "          ",
    "\u00a0", "\u1680", "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a",
    "\u202f", "\u205f", "\u3000", "\u0085", "\x0b", "\x0c", "\x1c\x1d\x1e\x1f",
]

NUMBERS = [
    "0", "42", "3.14159", "-17", "+1", "1,000,000", "1.000.000,00", "1e10", "6.022e23", "0x1F",
    "0b1011", "007", "12345678901234567890", "2024-06-11", "12:34:56", "$1,234.56", "€99,99", "£5",
    "¥1000", "50%", "1/2", "3rd 21st 102nd", "+1 (555) 123-4567", "192.168.0.1", "v1.2.3-rc.4",
    "٣٫١٤", "३.१४", "１２３", "Ⅳ", "π≈3.14",
]

URLS = [
    "https://huggingface.co/docs/tokenizers/index",
    "http://example.com/path?query=value&other=1#fragment",
    "www.example.org", "user@example.com", "first.last+tag@sub.domain.co.uk",
    "ftp://files.example.net/pub/file.tar.gz", "https://例え.テスト/パス", "file:///home/user/a%20b.txt",
    "@username #hashtag $TICKER", "C:\\Program Files\\App\\app.exe", "/usr/local/bin/python3",
]

CODE = [
    "def foo(x):\n    return x ** 2",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if (a && b || !c) { x->y = z; }",
    "const f = (a, b) => a !== b ? a : b;",
    "SELECT * FROM users WHERE id = 42;",
    "<html><body><p class=\"x\">Hi</p></body></html>",
    "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
    "#include <stdio.h>\nint main() { printf(\"%d\\n\", 0); }",
    "x = [i for i in range(10) if i % 2 == 0]",
    "    indented with spaces\n\tindented with tab",
    "snake_case camelCase PascalCase SCREAMING_CASE kebab-case",
    "a+=1;b-=2;c*=3;d/=4;e%=5;f**=6;g//=7",
    "std::vector<std::string> v{\"a\", \"b\"};",
    "$ git commit -m \"fix: bug\" && git push origin main",
    "regex: ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
]

SPECIAL_TOKENS = [
    "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "<s>", "</s>", "<pad>", "<unk>", "<mask>",
    "<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>",
    "<|im_end|>", "<extra_id_0>", "<extra_id_99>", "<0x41>", "<0xE2>", "▁", "Ġ", "##ing", "</w>",
    "[cls]", "<S>", "[MASK ]", "<|endoftext", "hello world",
]

TEMPLATES = [
    "{} is {}", "[CLS] {} [SEP] {} [SEP]", "<s>{}</s>", "{}<mask>{}", "Question: {} Answer: {}",
    "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n{}", "<|begin_of_text|>{}<|eot_id|>",
    "{} <|endoftext|> {}", "The [MASK] of {} is {}.", "({})[{}]", "{}\n\n{}", "{}\t{}",
]

SEPARATORS = ["", " ", "  ", "\t", "\n", " \n ", ", ", ". ", "-", "_", "/", "\u3000", "\u200b", "|", "▁"]

# Code point ranges drawn from for random "noise" strings.
CODE_POINT_RANGES = [
    (0x0020, 0x007E),   # ASCII printable
    (0x0000, 0x001F),   # C0 controls
    (0x0080, 0x00FF),   # Latin-1 (C1 controls, NBSP, accents)
    (0x0100, 0x024F),   # Latin extended
    (0x0300, 0x036F),   # combining diacritics
    (0x0370, 0x03FF),   # Greek
    (0x0400, 0x04FF),   # Cyrillic
    (0x0590, 0x05FF),   # Hebrew
    (0x0600, 0x06FF),   # Arabic
    (0x0900, 0x097F),   # Devanagari
    (0x0E00, 0x0E7F),   # Thai
    (0x1100, 0x11FF),   # Hangul Jamo
    (0x1E00, 0x1EFF),   # Latin extended additional
    (0x2000, 0x206F),   # general punctuation (spaces, zero-width, bidi)
    (0x2100, 0x218F),   # letterlike, number forms
    (0x2460, 0x24FF),   # enclosed alphanumerics
    (0x3000, 0x30FF),   # CJK punctuation, kana
    (0x4E00, 0x4FFF),   # CJK ideographs
    (0xAC00, 0xAD00),   # Hangul syllables
    (0xF900, 0xFAFF),   # CJK compatibility ideographs
    (0xFB00, 0xFB4F),   # alphabetic presentation forms
    (0xFE00, 0xFE0F),   # variation selectors
    (0xFE70, 0xFEFF),   # Arabic presentation forms B, BOM
    (0xFF00, 0xFFEF),   # half/full width forms
    (0x1D400, 0x1D7FF),  # math alphanumerics
    (0x1F300, 0x1F64F),  # emoji
    (0x1F900, 0x1F9FF),  # supplemental symbols
    (0x20000, 0x2000F),  # CJK extension B
    (0xE0000, 0xE007F),  # tags
]

FRAGMENT_GROUPS = {
    "prose": PROSE, "punctuation": PUNCTUATION, "accents": ACCENTS, "cjk": CJK, "thai_indic": THAI_INDIC,
    "rtl": RTL, "emoji": EMOJI, "control": CONTROL, "whitespace": WHITESPACE, "numbers": NUMBERS,
    "urls": URLS, "code": CODE, "special_tokens": SPECIAL_TOKENS,
}
ALL_FRAGMENTS = [f for group in FRAGMENT_GROUPS.values() for f in group]
INSERTABLE = CONTROL + WHITESPACE + ["\u0301", "\u0308", "\u200d", "\ufe0f", "\U0001F3FD", "'", "-", ".", "##", "▁"]


def _random_code_point(rng: random.Random) -> str:
    lo, hi = CODE_POINT_RANGES[rng.randrange(len(CODE_POINT_RANGES))]
    cp = rng.randint(lo, hi)
    if 0xD800 <= cp <= 0xDFFF:  # never a lone surrogate: those are not valid str for the tokenizers API
        cp = 0x20
    return chr(cp)


def _noise(rng: random.Random, n: int) -> str:
    return "".join(_random_code_point(rng) for _ in range(n))


def _long_word(rng: random.Random) -> str:
    kind = rng.randrange(6)
    n = rng.choice([50, 99, 100, 101, 150, 300, 1000])
    if kind == 0:
        return "a" * n
    if kind == 1:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
    if kind == 2:
        return "".join(rng.choice("etaoinshrdlu") for _ in range(n // 3)) + "ing"
    if kind == 3:
        return "supercalifragilisticexpialidocious" * max(1, n // 34)
    if kind == 4:
        return "漢" * (n // 4)
    return "".join(rng.choice("0123456789") for _ in range(n))


def _mutate(rng: random.Random, s: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(chars))
        if op == 0:
            chars[pos:pos] = list(rng.choice(INSERTABLE))
        elif op == 1 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 2 and chars:
            i = min(pos, len(chars) - 1)
            chars[i] = chars[i].upper() if chars[i].islower() else chars[i].lower()
        elif op == 3:
            chars[pos:pos] = list(rng.choice(SPECIAL_TOKENS))
        elif op == 4 and chars:
            i = min(pos, len(chars) - 1)
            chars[i:i] = [chars[i]] * rng.randint(1, 5)
        elif op == 5:
            chars[pos:pos] = list(_noise(rng, rng.randint(1, 3)))
        else:
            chars[pos:pos] = list(rng.choice(SEPARATORS))
    return "".join(chars)


def _concat(rng: random.Random) -> str:
    parts = [rng.choice(ALL_FRAGMENTS) for _ in range(rng.randint(2, 6))]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(SEPARATORS) + p
    return out


def _template(rng: random.Random) -> str:
    tpl = rng.choice(TEMPLATES)
    return tpl.format(*(rng.choice(ALL_FRAGMENTS) for _ in range(tpl.count("{}"))))


def _sentence(rng: random.Random) -> str:
    # a longer prose-like sentence from words of the fragments
    words = [w for w in rng.choice(PROSE).split() if w]
    words += [w for w in rng.choice(PROSE + CJK + RTL + THAI_INDIC).split() if w]
    rng.shuffle(words)
    return " ".join(words[: rng.randint(1, len(words))])


def _generate(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.10:
        return rng.choice(ALL_FRAGMENTS)
    if r < 0.35:
        return _concat(rng)
    if r < 0.55:
        return _mutate(rng, rng.choice([_concat(rng), rng.choice(ALL_FRAGMENTS), _sentence(rng)]))
    if r < 0.67:
        return _template(rng)
    if r < 0.80:
        return _sentence(rng)
    if r < 0.88:
        return _noise(rng, rng.randint(1, 40))
    if r < 0.93:
        return rng.choice(SEPARATORS).join([_sentence(rng), _long_word(rng), _sentence(rng)])
    if r < 0.97:
        # runs of whitespace / punctuation mixed with words
        return "".join(rng.choice(WHITESPACE + PUNCTUATION + ["word", "x", "ab"]) for _ in range(rng.randint(2, 20)))
    # a long multi-paragraph document (exercises truncation windows and overflow)
    return "\n\n".join(_concat(rng) for _ in range(rng.randint(5, 25)))


def build_corpus(size: int = CORPUS_SIZE, seed: int = SEED) -> list[str]:
    """The empty string, every fragment as is, then seeded random combinations up to `size`."""
    out = [""] + list(ALL_FRAGMENTS) + [_long_word(random.Random(seed + i)) for i in range(12)]
    rng = random.Random(seed)
    while len(out) < size:
        out.append(_generate(rng))
    return out


def build_pairs(corpus: list[str], n: int, seed: int = SEED + 1) -> list[tuple[str, str]]:
    """`n` (first, second) pairs from the corpus, including empty firsts and seconds."""
    rng = random.Random(seed)
    pairs = [("", ""), ("", "Hello world"), ("Hello world", ""), ("[CLS]", "[SEP]")]
    while len(pairs) < n:
        pairs.append((corpus[rng.randrange(len(corpus))], corpus[rng.randrange(len(corpus))]))
    return pairs


def sample(corpus: list, n: int, seed: int = SEED + 2) -> list:
    """A deterministic subset of `n` items that keeps the first 64 (empty string, fragments)."""
    if n >= len(corpus):
        return list(corpus)
    rng = random.Random(seed)
    head = list(corpus[:64])
    rest = rng.sample(range(64, len(corpus)), n - len(head))
    return head + [corpus[i] for i in sorted(rest)]


if __name__ == "__main__":
    c = build_corpus()
    total = sum(len(s.encode("utf-8")) for s in c)
    print(f"{len(c)} strings, {total} UTF-8 bytes, max {max(len(s) for s in c)} chars")
