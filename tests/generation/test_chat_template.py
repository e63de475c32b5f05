"""Chat templates rendered by optimum_cpp's Jinja engine byte-identically to
transformers (render_jinja_template / tokenizer.apply_chat_template with
tokenize=False) and small templates identically to jinja2 in transformers'
environment (trim_blocks, lstrip_blocks, loopcontrols, tojson, ...).

The family templates are tests/generation/templates/*.jinja (as their Hub
repositories have them); SmolLM2's is read from its GGUF file. Errors
(raise_exception, template errors) must occur on both sides, carrying the
same message.
"""

from __future__ import annotations

import copy
import itertools

import jinja2
import pytest
from chat_common import GEMMA3_GGUF, SMOLLM2_GGUF, TEMPLATES
from transformers.utils.chat_template_utils import _compile_jinja_template, render_jinja_template

SPECIAL = {"bos_token": "<s>", "eos_token": "</s>"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city, e.g. Paris — or 東京"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
        "return": {"type": "number", "description": "degrees"},
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current time", "parameters": {"type": "object", "properties": {}}},
}

U = "user"
A = "assistant"


def msg(role, content, **extra):
    return {"role": role, "content": content, **extra}


TOOL_CALL = {
    "type": "function",
    "id": "call12345",
    "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}},
}
TOOL_CALL_STR_ARGS = {
    "type": "function",
    "id": "call67890",
    "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
}

CONVERSATIONS = {
    "no_messages": [],
    "single_turn": [msg(U, "Hello!")],
    "system": [msg("system", "You are terse."), msg(U, "What is 2+2?")],
    "multi_turn": [msg(U, "Hi"), msg(A, "Hello! How can I help?"), msg(U, "Tell me a joke.")],
    "assistant_last": [msg(U, "Hi"), msg(A, "Hello there.")],
    "system_multi": [
        msg("system", "  Be nice.\n"),
        msg(U, "one"),
        msg(A, "two"),
        msg(U, "three"),
        msg(A, "four"),
    ],
    "unicode": [msg(U, "Héllo wörld — 你好 🌍🚀 \"quotes\" 'single' \\ back\\slash"), msg(A, "Ça va ✓ — ok\n\n")],
    "newlines": [msg(U, "\n\nline1\nline2\r\n\tindented  \n\n"), msg(A, "  padded  ")],
    "empty": [msg(U, ""), msg(A, "")],
    "jinja_syntax_in_content": [msg(U, "{{ not a tag }} {% if %} {# x #}")],
    "nbsp_trim": [msg(U, "\u00a0\u2003 spaced \u3000")],
    "tool_call": [
        msg(U, "What's the weather in Paris?"),
        {"role": A, "content": "", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "22"},
        msg(A, "It is 22 °C in Paris."),
    ],
    "tool_call_pending": [
        msg("system", "Use tools."),
        msg(U, "Weather in Paris and the time?"),
        {"role": A, "content": "Let me check.", "tool_calls": [TOOL_CALL, TOOL_CALL_STR_ARGS]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "22"},
        {"role": "tool", "tool_call_id": "call67890", "name": "get_time", "content": "12:00"},
    ],
    "reasoning": [
        msg(U, "Think first: 3*7?"),
        msg(A, "21", reasoning_content="3 times 7 is 21."),
        msg(U, "And 4*5?"),
        msg(A, "<think>\n4*5=20\n</think>\n\n20"),
    ],
    "reasoning_last": [msg(U, "q1"), msg(A, "a1"), msg(U, "q2"), msg(A, "a2", thinking="hmm")],
}

FAMILY_TEMPLATES = sorted(p.stem for p in TEMPLATES.glob("*.jinja"))
TOOL_TEMPLATES = {"llama3_1", "mistral_v0_3_tools", "qwen2", "qwen3"}


def reference(template, messages, add_generation_prompt=False, **kwargs):
    """transformers' rendering, or ('error', message) when it raises."""
    try:
        out, _ = render_jinja_template(
            conversations=[copy.deepcopy(messages)],
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            **copy.deepcopy(kwargs),
        )
        return out[0]
    except jinja2.TemplateError as e:
        return ("error", str(e))


def ours(oc, template, messages, add_generation_prompt=False, **kwargs):
    try:
        return oc.apply_chat_template(template, messages, add_generation_prompt, **kwargs)
    except ValueError as e:
        return ("error", str(e))


def assert_same(expected, got, where=None):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple), f"{where}: transformers raised {expected[1]!r}, optimum_cpp rendered {got!r}"
        assert expected[1] in got[1], f"{where}: error {got[1]!r} does not carry {expected[1]!r}"
    else:
        assert got == expected, where


@pytest.mark.parametrize("name", FAMILY_TEMPLATES)
def test_family_templates(oc, name):
    template = (TEMPLATES / f"{name}.jinja").read_text()
    rendered = 0
    for (conv_name, messages), agp in itertools.product(CONVERSATIONS.items(), (False, True)):
        variants = [{}]
        if name in TOOL_TEMPLATES:
            variants.append({"tools": [WEATHER_TOOL, TIME_TOOL]})
        if name == "qwen3":
            variants += [{"enable_thinking": False}, {"enable_thinking": True}]
        if name == "llama3_1":
            variants += [{"date_string": "01 Jan 2025", "tools_in_user_message": False, "tools": [WEATHER_TOOL]},
                         {"builtin_tools": ["code_interpreter", "get_weather"]}]
        for extra in variants:
            kwargs = {**SPECIAL, **extra}
            expected = reference(template, messages, agp, **kwargs)
            got = ours(oc, template, messages, agp, **kwargs)
            assert_same(expected, got, (name, conv_name, agp, extra))
            rendered += not isinstance(expected, tuple)
    # Most conversations must render (not only raise the same error on both sides).
    assert rendered >= len(CONVERSATIONS)


def gguf_chat_template(path):
    """tokenizer.chat_template and the bos/eos tokens of a GGUF file's metadata.

    gguf's GGUFReader takes ~40 s over gemma-3's 262k-token vocabulary, so the
    metadata block (GGUF v2/v3: magic, version, counts, then key/value pairs)
    is read here directly; test_smollm2_tokenizer_apply_chat_template checks
    the result against transformers' GGUF loading.
    """
    import struct

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    with open(path, "rb") as f:
        data = f.read(64 << 20)
    assert data[:4] == b"GGUF"
    version, _, n_kv = struct.unpack_from("<IQQ", data, 4)
    assert version in (2, 3)
    pos = 24

    def read_string():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + n
        return data[pos - n : pos].decode("utf-8")

    def read_value(vtype):
        nonlocal pos
        if vtype == 8:
            return read_string()
        if vtype == 9:
            (item_type, n) = struct.unpack_from("<IQ", data, pos)
            pos += 12
            return [read_value(item_type) for _ in range(n)]
        fmt = "<" + scalar[vtype]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    meta = {}
    for _ in range(n_kv):
        key = read_string()
        (vtype,) = struct.unpack_from("<I", data, pos)
        pos += 4
        meta[key] = read_value(vtype)
    tokens = meta["tokenizer.ggml.tokens"]
    special = {f"{n}_token": tokens[meta[f"tokenizer.ggml.{n}_token_id"]] for n in ("bos", "eos")}
    return meta.get("tokenizer.chat_template"), special


def test_smollm2_gguf_template(oc, models_dir):
    template, special = gguf_chat_template(models_dir / SMOLLM2_GGUF)
    assert template, "SmolLM2's GGUF carries tokenizer.chat_template"
    for (conv_name, messages), agp in itertools.product(CONVERSATIONS.items(), (False, True)):
        assert_same(reference(template, messages, agp, **special), ours(oc, template, messages, agp, **special),
                    (conv_name, agp))


def test_smollm2_tokenizer_apply_chat_template(oc, models_dir):
    # The whole transformers path: the GGUF-loaded tokenizer's template and special tokens
    # (transformers' loading converted once and cached: tests/refcache/gguf_reference.py).
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "refcache"))
    import gguf_reference

    tok = gguf_reference.load_tokenizer(models_dir / SMOLLM2_GGUF)
    template, gguf_special = gguf_chat_template(models_dir / SMOLLM2_GGUF)
    assert template == tok.chat_template
    assert gguf_special == {"bos_token": tok.bos_token, "eos_token": tok.eos_token}
    special = {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)}
    for conv_name in ("single_turn", "system", "multi_turn", "unicode"):
        for agp in (False, True):
            expected = tok.apply_chat_template(CONVERSATIONS[conv_name], tokenize=False, add_generation_prompt=agp)
            got = oc.apply_chat_template(tok.chat_template, CONVERSATIONS[conv_name], agp, **special)
            assert got == expected, (conv_name, agp)


def test_gemma3_hub_template_with_gguf_special_tokens(oc, models_dir):
    # gemma-3-270m's GGUF carries no tokenizer.chat_template (transformers then
    # has none either): its Hub template (templates/gemma3.jinja) is rendered
    # with the GGUF's own bos/eos tokens.
    template, special = gguf_chat_template(models_dir / GEMMA3_GGUF)
    assert template is None
    template = (TEMPLATES / "gemma3.jinja").read_text()
    for (conv_name, messages), agp in itertools.product(CONVERSATIONS.items(), (False, True)):
        assert_same(reference(template, messages, agp, **special), ours(oc, template, messages, agp, **special),
                    (conv_name, agp))


def test_multimodal_content_blocks(oc):
    template = (TEMPLATES / "gemma3.jinja").read_text()
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "sys text "}]},
        {"role": U, "content": [{"type": "image"}, {"type": "text", "text": " describe "}]},
    ]
    expected = reference(template, messages, True, **SPECIAL)
    assert not isinstance(expected, tuple)
    assert_same(expected, ours(oc, template, messages, True, **SPECIAL))


# --- the engine against jinja2 directly, in transformers' environment ---

JINJA_CASES = [
    # whitespace control: trim_blocks, lstrip_blocks, -, +
    ("{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("  {% if true %}\n  x\n  {% endif %}\n", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("a\n  {%+ if true %}b{% endif %}", {}),
    ("a {{- ' b ' -}} c\n{{ 'd' }}\n", {}),
    ("x {# comment #}\ny\n  {# c2 #}\nz", {}),
    ("{{ 'a' }}\n  {% if true %}b{% endif %}", {}),
    ("line\r\nnext\rlast\n", {}),
    ("{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("keep trailing\n\n", {}),
    # loops
    ("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
     "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {"xs": ["a", "b", "c"]}),
    ("{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('o', 'e') }};{% endfor %}", {"xs": [1, 2, 3]}),
    ("{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", {"xs": []}),
    ("{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}", {"xs": [1, 2, 3]}),
    ("{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     {"xs": [1, 2, 3, 4, 5]}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "y": 2}}),
    ("{% for c in 'héllo' %}{{ c }}.{% endfor %}", {}),
    ("{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}{% endfor %}", {}),
    # scoping and namespaces
    ("{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}"
     "{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("{% set a, b = [1, 2] %}{{ a }}{{ b }}", {}),
    ("{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]", {}),
    ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }}", {}),
    ("{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    # expressions
    ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 4 / 2 }}", {}),
    ("{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 3.0 }} {{ 1/3 }} {{ 123456789.125 }} {{ 1e16 }} {{ 0.0001 }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ 'x' + 'y' }}", {}),
    ("{{ 1 < 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'a' }} {{ 2 >= 3 }} {{ [1, 2] == [1, 2] }}", {}),
    ("{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", {}),
    ("{{ true and 'x' }} {{ 0 or 'y' }} {{ not none }} {{ none or [] }} {{ '' and 1 }}", {}),
    ("{{ 'yes' if x else 'no' }} {{ 'yes' if y else 'no' }} [{{ 'z' if false }}]", {"x": 1, "y": ""}),
    ("{{ xs[0] }} {{ xs[-1] }} {{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ 'abcdef'[1:4] }} {{ 'héllo'[::-1] }}",
     {"xs": [1, 2, 3, 4]}),
    ("{{ d.a }} {{ d['b'] }} {{ d.missing }}|{{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.get('zz') }}", {"d": {"a": 1, "b": 2}}),
    ("{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", {"d": {"a": 1, "b": [2]}}),
    ("{{ [1, 'a', none, true, 1.5, {'k': \"it's\"}] }} {{ (1, 2) }} {{ (1,) }} {{ {'a': 'b'} }}", {}),
    ("{{ 'single \\' and \"double\"' }} {{ \"tab\\tnew\\nline\\\\ \\x41\\u00e9\" }} {{ 'adj' 'acent' }}", {}),
    ("{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'nl\\n'] }}", {}),
    # undefined
    ("[{{ missing }}] {{ missing is defined }} {{ missing is undefined }} {{ missing | default('dflt') }} {{ none | default('x') }}", {}),
    ("{{ '' | default('e', true) }} {{ missing | length }} {{ missing ~ 'x' }} {% for a in missing %}no{% endfor %}", {}),
    ("{{ none.attr }}|{{ d.x }}|{{ d.x is defined }}|{{ none is none }}", {"d": {}}),
    # filters
    ("{{ '  hi  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Hi' | upper }}{{ 'Hi' | lower }}|{{ 'hello world' | title }}"
     "|{{ \"it's a-b (c)\" | title }}|{{ 'hELLO' | capitalize }}", {}),
    ("{{ xs | length }} {{ xs | first }} {{ xs | last }} {{ xs | join(', ') }} {{ xs | join }} {{ xs | reverse | list }}",
     {"xs": ["a", "b", "c"]}),
    ("{{ users | map(attribute='name') | join(',') }} {{ users | selectattr('admin') | map(attribute='name') | list }}"
     " {{ users | rejectattr('admin') | list | length }} {{ users | selectattr('name', 'equalto', 'b') | list }}",
     {"users": [{"name": "a", "admin": True}, {"name": "b", "admin": False}]}),
    ("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ [0, 1, '', 'x'] | select | list }}"
     " {{ ['a', 'b'] | map('upper') | list }}", {}),
    ("{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 3 | string }} {{ '42' | int + 1 }} {{ 'x' | int }}"
     " {{ 3.9 | int }} {{ '2.5' | float }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'a'] | sort }} {{ [3, 1] | sort(reverse=true) }}", {}),
    ("{{ 2.5 | round }} {{ 3.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(0, 'floor') }}"
     " {{ 3 | round }} {{ -3 | abs }} {{ [1, 2, 3] | sum }} {{ [4, 1, 9] | max }} {{ [4, 1, 9] | min }}", {}),
    ("{{ d | tojson }} {{ d | tojson(indent=2) }} {{ 'é\"\\n<>&' | tojson }} {{ [] | tojson(indent=4) }} {{ d | tojson(sort_keys=true) }}",
     {"d": {"z": [1, 2.5, None, True, "ü"], "a": {}, "m": {"n": "v"}}}),
    ("{{ d | tojson(separators=(',', ':')) }} {{ 1.0 | tojson }} {{ 10000000000000000.0 | tojson }}", {"d": {"a": [1, 2], "b": "c"}}),
    ("{{ d | dictsort }} {{ d | items | list }} {{ [1, 2, 1, 3] | unique | list }} {{ 'a\nb' | indent(2) }} {{ 'a\n\nb' | indent(2, true, true) }}",
     {"d": {"b": 1, "a": 2}}),
    ("{{ '%s is %d' | format('x', 3) }} {{ '<a>' | e }} {{ 'two words here' | wordcount }} {{ x | safe }} {{ [1, 2] | list | count }}",
     {"x": "<b>"}),
    # tests
    ("{{ 'a' is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ none is none }}"
     " {{ {} is mapping }} {{ [] is sequence }} {{ 'a' is iterable }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }}"
     " {{ 1 is eq 1 }} {{ 1 is equalto(2) }} {{ 2 is gt 1 }} {{ 'a' is in ['a'] }} {{ x is not none }} {{ true is true }}"
     " {{ 0 is false }} {{ 'abc' is lower }} {{ 'ABC' is upper }}", {"x": 0}),
    # string methods
    ("{{ s.startswith('He') }} {{ s.endswith(('x', 'lo')) }} {{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip('H ') }}",
     {"s": " Hello "}),
    ("{{ s.split() }} {{ s.split(',') }} {{ s.split(',', 1) }} {{ s.rsplit(',', 1) }} {{ s.replace(',', ';') }} {{ s.upper() }}"
     " {{ s.lower() }} {{ s.title() }} {{ s.find('b') }} {{ s.count(',') }} {{ '-'.join(['a', 'b']) }}", {"s": "a,b c,d"}),
    ("{{ '{} and {}'.format(1, 'x') }} {{ '{name}!'.format(name='N') }} {{ 'ab12'.isalnum() }} {{ '12'.isdigit() }}"
     " {{ 'a\nb'.splitlines() }} {{ 'x'.capitalize() }}", {}),
    # globals
    ("{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ dict(a=1, b='x') }}", {}),
    ("{% set ns = namespace() %}{% set ns.a = [1] %}{{ ns.a }}", {}),
    # more semantics
    ("{% set x = 0 %}{% for i in range(2) %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% set g = 'G' %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}", {}),
    ("{{ [0.1, 1e100, -0.0, 2.5e-7] }} {{ 5 // 2.0 }} {{ 5 % 2.5 }} {{ -5 % 2.5 }} {{ 1e300 * 1e300 }}", {}),
    ("{{ {'a': {'b': [1, {'c': none}]}} }} {{ 'é' < 'z' }} {{ 'Z' < 'a' }}", {}),
    ("{{ none | string }} {{ none | trim }} {{ true | string }} {{ s | tojson }}", {"s": "a\u0001b\u007f😀\u2028"}),
    ("{{ '%d' | format(3.7) }} {{ '%5.2f' | format(3.14159) }} {{ '%-4s|' | format('a') }} a {#- c -#} b {#+ k +#} c", {}),
    ("{{ [1,2,3][5:10] }} {{ [1,2,3][-10:1] }} {{ 'abc'[10] }}| {{ 10 ** -1 }} {{ -2 ** 2 }} {{ (-2) ** 2 }} {{ -x | abs }}", {"x": 3}),
    ("{{ 1 if true else 2 if false else 3 }} {{ 1 == true }} {{ [] == () }} {{ 'x' ~ [1, 'a'] ~ {'k': 2} }}", {}),
    ("{{ 'x'.startswith('') }} {{ ''.split(',') }} {{ ' a  b '.split(' ') }} {{ 'a,b,,c'.rsplit(',', 2) }} {{ ' a b c '.split(none, 1) }} {{ ' a b c '.rsplit(none, 1) }}", {}),
    ("{{ 123456789012345678 }} {{ 12345678901234567.0 }} {{ 0.000012345 }} {{ 100.0 }} {{ 1.5e15 }} {{ 1.5e16 }} {{ '😀é' | length }}", {}),
    ("{{ x | default }}|{{ x | d('z') }}|{{ 'abc' | list }} {{ {'a': 1} | list }}", {}),
    ("a{% generation %} assistant {{ 1 }} {% endgeneration %}b", {}),
]


@pytest.mark.parametrize("template,context", JINJA_CASES, ids=[f"case{i}" for i in range(len(JINJA_CASES))])
def test_engine_matches_jinja2(oc, template, context):
    expected = _compile_jinja_template(template).render(**copy.deepcopy(context))
    assert oc.render_jinja_template(template, **context) == expected


def random_whitespace_template(rng):
    """Text, output, comment, if/for/set tags with every whitespace control mix."""
    texts = ["", " ", "  ", "\n", "\n\n", " \n ", "\t", "x", " y ", "\n  ", "a\n", "\r\n", "  \t\n"]

    def begin():
        return rng.choice(["", "", "-", "+"])

    def end():
        return rng.choice(["", "", "-", "+"])

    def frag(depth):
        k = rng.randrange(6 if depth < 3 else 3)
        if k == 0:
            return rng.choice(texts)
        if k == 1:
            return "{{" + rng.choice(["", "-"]) + " 'v' " + rng.choice(["", "-"]) + "}}"
        if k == 2:
            return "{#" + begin() + " c " + rng.choice(["", "-"]) + "#}"
        if k == 3:
            return f"{{%{begin()} if true {end()}%}}{body(depth + 1)}{{%{begin()} endif {end()}%}}"
        if k == 4:
            return f"{{%{begin()} for i in [1, 2] {end()}%}}{body(depth + 1)}{{%{begin()} endfor {end()}%}}"
        return f"{{%{begin()} set x = 1 {end()}%}}"

    def body(depth):
        return "".join(frag(depth) for _ in range(rng.randrange(1, 5)))

    return "".join(rng.choice(texts) + frag(0) for _ in range(rng.randrange(1, 6)))


def test_whitespace_control_matches_jinja2(oc):
    import random

    rng = random.Random(1234)
    for _ in range(1500):
        template = random_whitespace_template(rng)
        assert oc.render_jinja_template(template) == _compile_jinja_template(template).render(), repr(template)


def test_documents_and_kwargs_reach_the_template(oc):
    template = (
        "{% for d in documents %}[{{ loop.index }}] {{ d.title }}: {{ d.text }}\n{% endfor %}"
        "{{ tools is none }} {{ custom }} {{ messages | length }} {{ add_generation_prompt }}"
    )
    docs = [{"title": "A", "text": "first"}, {"title": "B", "text": "second ✓"}]
    messages = [msg(U, "q")]
    expected = reference(template, messages, True, documents=docs, custom={"k": [1, 2]})
    assert oc.apply_chat_template(template, messages, True, documents=docs, custom={"k": [1, 2]}) == expected


def test_strftime_now(oc):
    template = "{{ strftime_now('%d %b %Y %A %H') }}"
    before = _compile_jinja_template(template).render()
    got = oc.render_jinja_template(template)
    after = _compile_jinja_template(template).render()
    assert got in (before, after)


ERROR_CASES = [
    ("{{ raise_exception('Conversation roles must alternate!') }}", "Conversation roles must alternate!"),
    ("{{ missing.attr }}", "'missing' is undefined"),
    ("{{ [1].append(2) }}", "unsafe"),
    ("{{ 1 + 'a' }}", "unsupported operand"),
    ("{{ none | length }}", "has no len()"),
    ("{% set ns = namespace() %}{% set ns._x = 1 %}", "underscore-prefixed"),
    ("{{ range(100001) | length }}", "Range too big"),
    ("{{ 1 / 0 }}", "division by zero"),
    ("{{ m[0]['role'] }}", "list object has no element 0"),
    ("{{ n.a.b }}", "'None' has no attribute 'a'"),
    ("{{ 'a'.nope() }}", "'str object' has no attribute 'nope'"),
]


@pytest.mark.parametrize("template,message", ERROR_CASES)
def test_errors_match_jinja2(oc, template, message):
    context = {"m": [], "n": None}
    with pytest.raises(Exception) as ref:
        _compile_jinja_template(template).render(**context)
    assert message in str(ref.value)
    with pytest.raises(ValueError, match=r"line 1, column \d+") as got:
        oc.render_jinja_template(template, **context)
    assert message in str(got.value)


SYNTAX_ERRORS = [
    ("{% if x %}\nno end", 2),
    ("a\nb\n{{ 1 + }}", 3),
    ("{% for x in %}{% endfor %}", 1),
    ("{% endif %}", 1),
    ("{{ 'unterminated }}", 1),
    ("\n\n{% do x %}", 3),
    ("{% break %}", 1),
    ("{{ x | nosuchfilter }}", 1),
    ("{# open comment", 1),
]


@pytest.mark.parametrize("template,line", SYNTAX_ERRORS)
def test_syntax_errors_name_the_line(oc, template, line):
    # jinja2 reports `break` outside a loop from Python's compiler (SyntaxError).
    with pytest.raises((jinja2.TemplateSyntaxError, SyntaxError)):
        _compile_jinja_template(template)
    with pytest.raises(ValueError, match=rf"line {line}, column \d+"):
        oc.render_jinja_template(template)


def test_hostile_templates_are_bounded(oc):
    for template, message in [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop iterations"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested deeper"),
        ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "exceeds the limit"),
        ("{{ 'x' * 10000000000 }}", "exceeds the limit"),
        ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "nested too deeply"),
    ]:
        with pytest.raises(ValueError, match=message):
            oc.render_jinja_template(template)


def test_messages_must_be_dicts(oc):
    with pytest.raises(ValueError, match=r"messages\[1\]"):
        oc.apply_chat_template("{{ messages }}", [msg(U, "a"), "not a dict"])
