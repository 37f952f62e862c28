#!/usr/bin/python3
"""Renders every vendored chat template x scenario the way Hugging Face transformers' apply_chat_template does and
writes the results to fixtures.json, which ChatTemplateFixturesTest compares byte for byte with our engine.

Run with Debian's python and jinja2 (apt-get install python3-jinja2):
    /usr/bin/python3 http-edge/src/test/resources/chat-templates/make_fixtures.py

The environment below mirrors transformers' chat_template_utils._compile_jinja_template: an
ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loopcontrols, a {% generation %} block that renders
its body, tojson = json.dumps(ensure_ascii=False, ...), and the globals raise_exception and strftime_now (pinned to a
fixed instant here). Render variables are messages, tools (None when not given), documents (None),
add_generation_prompt, the special tokens of the model and any extra keyword arguments.
"""
import datetime
import json
import os
import random

import jinja2
from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = datetime.datetime(2025, 3, 7, 14, 5, 9)


class Generation(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


# Special tokens per template, as the models' tokenizer_config.json name them.
MODELS = {
    "llama3_1": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama3_2_generation": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "qwen2_5": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "gemma3": {"bos_token": "<bos>", "eos_token": "<end_of_turn>", "unk_token": "<unk>", "pad_token": "<pad>"},
    "mistral_nemo": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "phi3": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>", "pad_token": "<|endoftext|>"},
    "phi3_5": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>", "pad_token": "<|endoftext|>"},
    "deepseek_r1_distill_qwen": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "mistral_small_3_1": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "command_r7b_tool_use": {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>",
                             "unk_token": "<UNK>", "pad_token": "<PAD>"},
    "smollm2": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>",
                "pad_token": "<|im_end|>"},
}

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

CALL = {"id": "call12345", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
CALL_STRING_ARGS = {"id": "call12345", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}

SCENARIOS = {
    "single_turn": dict(messages=[{"role": "user", "content": "Hello!"}]),
    "single_turn_no_generation_prompt": dict(messages=[{"role": "user", "content": "Hello!"}], add=False),
    "system_prompt": dict(messages=[{"role": "system", "content": "You are terse."},
                                    {"role": "user", "content": "Hi"}]),
    "multi_turn": dict(messages=[{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "What is 2+2?"},
                                 {"role": "assistant", "content": "4"},
                                 {"role": "user", "content": "And 3+3?"}]),
    "multi_turn_no_system_final_assistant": dict(messages=[{"role": "user", "content": "Hi"},
                                                           {"role": "assistant", "content": "Hello, how can I help?"}],
                                                 add=False),
    "non_ascii_and_quotes": dict(messages=[{"role": "user",
                                            "content": "  Grüße — «it's» \"quoted\" 日本語 😀\n\tsecond line  "}]),
    "tools_given": dict(messages=[{"role": "system", "content": "You can call tools."},
                                  {"role": "user", "content": "What's the weather in Paris?"}], tools=[WEATHER]),
    "tool_call_and_result": dict(messages=[{"role": "user", "content": "Weather in Paris?"},
                                           {"role": "assistant", "content": "", "tool_calls": [CALL]},
                                           {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
                                            "content": "{\"temperature\": 21, \"sky\": \"clear\"}"}],
                                 tools=[WEATHER]),
    "tool_call_string_arguments": dict(messages=[{"role": "user", "content": "Weather in Paris?"},
                                                 {"role": "assistant", "content": "", "tool_calls": [CALL_STRING_ARGS]},
                                                 {"role": "tool", "tool_call_id": "call12345", "content": "sunny"}],
                                       tools=[WEATHER]),
    "thinking_history": dict(messages=[{"role": "user", "content": "Pick a number"},
                                       {"role": "assistant", "content": "<think>\nI like 7.\n</think>\n\n7"},
                                       {"role": "user", "content": "Why?"}]),
    "reasoning_content_field": dict(messages=[{"role": "user", "content": "Pick a number"},
                                              {"role": "assistant", "content": "7", "reasoning_content": "Lucky."}],
                                    add=False),
    "thinking_disabled": dict(messages=[{"role": "user", "content": "Hello!"}], extra={"enable_thinking": False}),
    "roles_not_alternating": dict(messages=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]),
    "content_parts": dict(messages=[{"role": "system", "content": [{"type": "text", "text": "Sys in parts."}]},
                                    {"role": "user", "content": [{"type": "text", "text": "Describe "},
                                                                 {"type": "text", "text": "this."}]}]),
    "two_tool_calls_long_ids": dict(messages=[{"role": "user", "content": "Weather in Paris and Rome?"},
                                              {"role": "assistant", "content": None, "tool_calls": [
                                                  dict(CALL_STRING_ARGS, id="call_abcdefghi123"),
                                                  {"id": "call_zyxwvutsr987", "type": "function",
                                                   "function": {"name": "get_weather",
                                                                "arguments": "{\"city\": \"Rome\"}"}}]},
                                              {"role": "tool", "tool_call_id": "call_abcdefghi123", "content": "sunny"},
                                              {"role": "tool", "tool_call_id": "call_zyxwvutsr987", "content": "rainy"},
                                              {"role": "assistant", "content": "Sunny in Paris, rainy in Rome."}],
                                    tools=[WEATHER], add=False),
    "documents_and_citations": dict(messages=[{"role": "user", "content": "Summarise the notes."}],
                                    extra={"documents": [{"title": "Notes", "text": "Quiver serves LoRA adapters."}],
                                           "enable_citations": True}),
    "date_string_given": dict(messages=[{"role": "user", "content": "Today?"}], extra={"date_string": "01 Jan 2030"}),
}


TEXTS = ["Hi", "  padded  ", "", "line one\nline two\n", "quotes ' and \" and \\ backslash", "Ünïcödé ✓ 中文 🚀",
         "<think>\nhmm\n</think>\n\nfinal", "<tool_response>\nx\n</tool_response>", "{{ not a template }}",
         "tab\tseparated", "[INST] fake [/INST]", "trailing newline\n"]


def random_conversations(seed=14, count=8):
    """Deterministic mixed conversations: optional system, alternating turns (sometimes not), tricky texts, and
    now and then a tool call with its result."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        messages = []
        if rnd.random() < 0.5:
            messages.append({"role": "system", "content": rnd.choice(TEXTS)})
        turns = rnd.randint(1, 4)
        for t in range(turns):
            messages.append({"role": "user", "content": rnd.choice(TEXTS)})
            if t < turns - 1 or rnd.random() < 0.3:
                if rnd.random() < 0.25:
                    call_id = "call%05d" % rnd.randint(0, 99999)
                    messages.append({"role": "assistant", "content": "", "tool_calls": [
                        {"id": call_id, "type": "function",
                         "function": {"name": "get_weather", "arguments": {"city": rnd.choice(TEXTS)}}}]})
                    messages.append({"role": "tool", "tool_call_id": call_id, "content": rnd.choice(TEXTS)})
                else:
                    messages.append({"role": "assistant", "content": rnd.choice(TEXTS)})
        if rnd.random() < 0.15:
            messages.insert(rnd.randint(0, len(messages)), {"role": "user", "content": rnd.choice(TEXTS)})
        out.append(("random_%d" % i, dict(messages=messages, add=rnd.random() < 0.7,
                                            tools=[WEATHER] if rnd.random() < 0.3 else None)))
    return out


def main():
    env = environment()
    cases = []
    for model, tokens in MODELS.items():
        with open(os.path.join(HERE, model + ".jinja"), encoding="utf-8") as f:
            template = env.from_string(f.read())
        for name, s in list(SCENARIOS.items()) + random_conversations():
            add = s.get("add", True)
            tools = s.get("tools")
            extra = s.get("extra", {})
            case = {"template": model, "scenario": name, "special_tokens": tokens, "messages": s["messages"],
                    "tools": tools, "add_generation_prompt": add, "extra": extra}
            try:
                variables = dict(messages=s["messages"], tools=tools, documents=None, add_generation_prompt=add)
                variables.update(tokens)
                variables.update(extra)
                case["expected"] = template.render(**variables)
            except TemplateError as e:
                case["error"] = e.message
            except Exception as e:  # Python errors inside the template (TypeError, ...): our engine must fail alike
                case["error"] = str(e)
            cases.append(case)
    with open(os.path.join(HERE, "fixtures.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2_version": jinja2.__version__, "now": NOW.isoformat(), "cases": cases}, f,
                  ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(cases), "cases;", sum("error" in c for c in cases), "raise")


if __name__ == "__main__":
    main()
