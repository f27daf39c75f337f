"""Writes testdata/variants/*.json: chat templates rendered by transformers' own renderer.

Run with the steer venv (transformers 5.24, jinja2 3.1):

    python model/chat/testdata/gen_variants.py

Every case goes through what tokenizer.apply_chat_template(conversation, tokenize=False, ...) does
after choosing the template: _normalize_chat_messages (message keys whose value is None are
dropped), then render_jinja_template (reasoning fields aliased, tools and documents always passed,
None when not given, the special tokens and the custom kwargs as template variables), which compiles
with transformers' ImmutableSandboxedEnvironment (trim_blocks, lstrip_blocks, loopcontrols, its
tojson, raise_exception, strftime_now, dict, namespace, the {% generation %} tag).

strftime_now reads datetime.now(); the generator pins it to FIXED_NOW (the Go test sets
Template.Now to the same instant).

The real-model templates below are reconstructions from memory of the public chat templates
(the comment above each names the model it imitates); they follow the originals' constructs
closely but need not be byte-identical to any shipped file. The t_* templates exercise one
construct family each.

Each fixture holds the template, the special tokens and its cases: the name of the conversation
in variants/conversations.json as given to apply_chat_template (messages, plus tools / documents /
kwargs), add_generation_prompt and
either "rendered", "raise" (the message of raise_exception) or "error" (another exception,
"Type: message"; the Go test only checks that an error is returned for those).
"""

import datetime as _dt
import json
import os
import sys

import jinja2
from transformers.utils import chat_template_utils as ctu

FIXED_NOW = _dt.datetime(2025, 3, 7, 14, 5, 9)


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


ctu.datetime = _FixedDatetime

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "variants")

BOS, EOS = "<s>", "</s>"

# ---------------------------------------------------------------- conversations

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "default": 1},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web: returns \"snippets\" & <links>",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            "return": {"type": "string"},
        },
    },
]

CONVERSATIONS = {
    "user": {"messages": [{"role": "user", "content": "Hello!"}]},
    "sys_multi": {
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "  4  "},
            {"role": "user", "content": "And 3+3?\n"},
        ]
    },
    "multi": {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": "Tell me a joke."},
            {"role": "assistant", "content": "No."},
        ]
    },
    "tools": {
        "messages": [
            {"role": "system", "content": "Use tools when needed."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "abc123xyz",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2, "ratio": 0.5}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "abc123xyz", "name": "get_weather", "content": '{"temp": 21, "sky": "clear"}'},
            {"role": "assistant", "content": "It is 21°C and clear."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": TOOLS,
    },
    "parts": {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "System in parts."}]},
            {"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "text", "text": "this."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A thing."}]},
            {"role": "user", "content": [{"type": "text", "text": "More?"}]},
        ]
    },
    "empty": {
        "messages": [
            {"role": "user", "content": ""},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": " "},
        ]
    },
    "unicode": {
        "messages": [
            {"role": "system", "content": "Réponds en français. 日本語 😀"},
            {"role": "user", "content": "Say \"hi\" <b>&'x'</b>\n\ttab\\slash"},
            {"role": "assistant", "content": "« salut » — ok"},
            {"role": "user", "content": "ünïcödé?"},
        ]
    },
    "think": {
        "messages": [
            {"role": "user", "content": "Solve x+1=2."},
            {"role": "assistant", "content": "<think>\nx = 2-1\n</think>\n\nx = 1", "reasoning_content": None},
            {"role": "user", "content": "And x+2=5?"},
            {"role": "assistant", "content": "x = 3", "reasoning_content": "subtract two"},
        ],
        "enable_thinking": False,
    },
    "bad_alternation": {
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
        ]
    },
    "multi_tool_calls": {
        "messages": [
            {"role": "user", "content": "Weather in Paris and search cats"},
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"id": "call00002", "type": "function", "function": {"name": "search", "arguments": {"q": "cats"}}},
                ],
            },
            {"role": "tool", "tool_call_id": "call00001", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call00002", "content": "cats are mammals"},
        ],
        "tools": TOOLS,
    },
    "documents": {
        "messages": [{"role": "user", "content": "Summarise the docs."}],
        "documents": [
            {"title": "Doc A", "text": "Alpha text."},
            {"title": "Doc B", "text": "Beta text, with \"quotes\"."},
        ],
    },
}

REAL = ["user", "sys_multi", "multi", "tools", "parts", "empty", "unicode", "think", "bad_alternation", "multi_tool_calls"]
SMALL = ["user", "sys_multi", "tools"]

# ---------------------------------------------------------------- templates

TEMPLATES = []


def T(name, imitates, template, convs=REAL, bos=BOS, eos=EOS):
    TEMPLATES.append({"name": name, "imitates": imitates, "template": template, "convs": convs, "bos": bos, "eos": eos})


# meta-llama/Llama-2-7b-chat-hf
T("llama2", "meta-llama/Llama-2-7b-chat-hf", """{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}""")

# meta-llama/Llama-3.1-8B-Instruct (tool calling, builtin tools, date_string)
LLAMA31 = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""
T("llama31_tools", "meta-llama/Llama-3.1-8B-Instruct", LLAMA31)

# meta-llama/Llama-3.2-1B-Instruct (strftime_now date, no builtin tools, tools in system when asked)
LLAMA32 = LLAMA31.replace(
    """{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}""",
    """{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}""",
)
T("llama32", "meta-llama/Llama-3.2-1B-Instruct", LLAMA32)

# meta-llama/Meta-Llama-3-8B-Instruct (loop.first, trim, bos only on first)
T("llama3", "meta-llama/Meta-Llama-3-8B-Instruct", """{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}""", bos="<|begin_of_text|>", eos="<|eot_id|>")

# mistralai/Mistral-7B-Instruct-v0.1
T("mistral_v1", "mistralai/Mistral-7B-Instruct-v0.1", """{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}""")

# mistralai/Mistral-7B-Instruct-v0.2 style with system prepended to first user turn
T("mistral_v2", "mistralai/Mistral-7B-Instruct-v0.2", """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
""")

# mistralai/Mistral-7B-Instruct-v0.3 (tool calling, 9-char ids, namespace alternation check)
T("mistral_v3_tools", "mistralai/Mistral-7B-Instruct-v0.3", """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
""")

# mistralai/Mistral-Nemo-Instruct-2407 (no-space [AVAILABLE_TOOLS], ns.index loop, tool results)
T("mistral_nemo", "mistralai/Mistral-Nemo-Instruct-2407", """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS][" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST]" + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST]" + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}
        {{- "[TOOL_CALLS][" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- message["content"] + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS]{"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
""")

# Qwen/Qwen2-7B-Instruct
T("qwen2", "Qwen/Qwen2-7B-Instruct", """{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}""", bos=None, eos="<|im_end|>")

# Qwen/Qwen2.5-7B-Instruct (tools, tool_call.function unwrapping, tool response grouping)
T("qwen25", "Qwen/Qwen2.5-7B-Instruct", """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
""", bos=None, eos="<|im_end|>")

# Qwen/Qwen3-8B (tools, <think> splitting, messages[::-1], namespace with kwargs, enable_thinking)
T("qwen3", "Qwen/Qwen3-8B", """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- if ns.multi_step_tool %}
    {{- raise_exception('No user query found in messages.') }}
{%- endif %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}""", bos=None, eos="<|im_end|>")

# google/gemma-7b-it, google/gemma-2-9b-it
T("gemma2", "google/gemma-2-9b-it", """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}""", bos="<bos>", eos="<eos>")

# google/gemma-3-4b-it (system folded into the first user turn, content parts)
T("gemma3", "google/gemma-3-4b-it", """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
""", bos="<bos>", eos="<eos>")

# microsoft/Phi-3-mini-4k-instruct
T("phi3", "microsoft/Phi-3-mini-4k-instruct", """{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}""", eos="<|endoftext|>")

# microsoft/Phi-3.5-mini-instruct
T("phi35", "microsoft/Phi-3.5-mini-instruct", """{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}""", eos="<|endoftext|>")

# microsoft/phi-4
T("phi4", "microsoft/phi-4", """{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'assistant') %}{{'<|im_start|>assistant<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}""", eos="<|im_end|>")

# gpt2 / transformers' old default (no chat template of its own)
T("gpt2_default", "gpt2 (transformers' former default_chat_template)", """{% for message in messages %}{{ message.content }}{{ eos_token }}{% endfor %}""", convs=SMALL, bos="<|endoftext|>", eos="<|endoftext|>")

# HuggingFaceH4/zephyr-7b-beta (newlines around tags: trim_blocks)
T("zephyr", "HuggingFaceH4/zephyr-7b-beta", """{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>
'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}""")

# deepseek-ai/DeepSeek-R1-Distill-Qwen style (namespace flags, split on </think>, tool call outputs)
T("deepseek_r1", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments']|tojson + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments']|tojson + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}""", bos="<｜begin▁of▁sentence｜>", eos="<｜end▁of▁sentence｜>")

# HuggingFaceTB/SmolLM3-3B style: {% generation %}, strftime_now, kwargs, macros, /think flags
T("smollm3_like", "HuggingFaceTB/SmolLM3-3B (simplified; {% generation %} as in training templates)", """{%- set today = strftime_now("%d %B %Y") -%}
{%- macro render_content(content) -%}
{%- if content is string -%}{{ content }}{%- else -%}{%- for part in content if part.type == 'text' -%}{{ part.text }}{%- endfor -%}{%- endif -%}
{%- endmacro -%}
<|im_start|>system
## Metadata

Knowledge Cutoff Date: June 2025
Today Date: {{ today }}
Reasoning Mode: {{ '/no_think' if enable_thinking is defined and not enable_thinking else '/think' }}

{% if messages[0].role == 'system' %}{{ render_content(messages[0].content) | trim }}{% endif %}
<|im_end|>
{% for message in messages %}
{% if message.role == 'user' %}
<|im_start|>user
{{ render_content(message.content) }}<|im_end|>
{% elif message.role == 'assistant' %}
<|im_start|>assistant
{% generation %}
{{ render_content(message.content) if message.content is defined else '' }}<|im_end|>
{% endgeneration %}
{% elif message.role == 'tool' %}
<|im_start|>user
<tool_response>{{ message.content }}</tool_response><|im_end|>
{% endif %}
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}""", bos=None, eos="<|im_end|>")

# ibm-granite/granite-3.x style documents + tools rendering
T("granite_like", "ibm-granite/granite-3.1-8b-instruct (simplified)", """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = "Knowledge Cutoff Date: April 2024.\\nToday's Date: " + strftime_now('%B %d, %Y') + ".\\nYou are Granite." %}
    {%- if tools and documents %}
        {%- set system_message = system_message + " You have access to tools and documents." %}
    {%- elif tools %}
        {%- set system_message = system_message + " You have access to tools." %}
    {%- elif documents %}
        {%- set system_message = system_message + " Write the response using the documents." %}
    {%- endif %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- '<|start_of_role|>system<|end_of_role|>' + system_message + '<|end_of_text|>\\n' }}
{%- if tools %}
    {{- '<|start_of_role|>tools<|end_of_role|>' }}
    {{- tools | tojson(indent=4) }}
    {{- '<|end_of_text|>\\n' }}
{%- endif %}
{%- if documents %}
    {%- for document in documents %}
        {{- '<|start_of_role|>document {"document_id": "' + loop.index0 | string + '"}<|end_of_role|>\\n' }}
        {%- for key, value in document.items() %}
            {{- key | capitalize + ': ' + value + '\\n' }}
        {%- endfor %}
        {{- '<|end_of_text|>\\n' }}
    {%- endfor %}
{%- endif %}
{%- for message in loop_messages %}
    {%- if message['role'] == 'assistant' and message.tool_calls is defined %}
        {{- '<|start_of_role|>assistant<|end_of_role|><|tool_call|>' + message.tool_calls | map(attribute='function') | list | tojson + '<|end_of_text|>\\n' }}
    {%- elif message['role'] == 'tool' %}
        {{- '<|start_of_role|>tool_response<|end_of_role|>' + message['content'] + '<|end_of_text|>\\n' }}
    {%- else %}
        {{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>\\n' }}
    {%- endif %}
    {%- if loop.last and add_generation_prompt %}
        {{- '<|start_of_role|>assistant<|end_of_role|>' }}
    {%- endif %}
{%- endfor %}""", convs=["user", "sys_multi", "tools", "documents", "multi_tool_calls"], bos=None, eos="<|end_of_text|>")

# ---- targeted construct templates (t_*)

T("t_loop", "constructs: loop variables and cycle", """{% for m in messages %}[{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }} first={{ loop.first }} last={{ loop.last }} prev={{ loop.previtem.role if loop.previtem is defined else '-' }} next={{ loop.nextitem.role if loop.nextitem is defined else '-' }} {{ loop.cycle('odd', 'even') }} changed={{ loop.changed(m.role) }}]
{% endfor %}
{% for i in range(3) %}{% for j in range(2) %}{{ loop.depth }}{{ i }}{{ j }}{{ loop.depth0 }} {% endfor %}{% endfor %}
{% for x in [] %}x{% else %}empty-else{% endfor %}
{% for k in messages if k.role != 'system' %}{{ loop.index }}:{{ k.role }} {% endfor %}
{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}""", convs=SMALL)

T("t_namespace", "constructs: namespace() and attribute set, scoping", """{% set ns = namespace(count=0, roles='', found=false, items=[]) %}
{% set outer = 'outer' %}
{% for m in messages %}
{% set outer = 'inner' %}
{% set ns.count = ns.count + 1 %}
{% set ns.roles = ns.roles ~ m.role[0] %}
{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}
{% set ns.items = ns.items + [loop.index] %}
{% endfor %}
{{ ns.count }} {{ ns.roles }} {{ ns.found }} {{ ns.items }} {{ outer }}
{% set n2 = namespace(x=ns.count * 2) %}{{ n2.x }}
{% set a, b = 1, 2 %}{{ a }}{{ b }}""", convs=SMALL)

T("t_macro", "constructs: macros with defaults, kwargs, caller, recursion", """{% macro tag(name, body='', attrs=none) -%}
<{{ name }}{% if attrs %} {{ attrs }}{% endif %}>{{ body }}</{{ name }}>
{%- endmacro %}
{% macro wrap(title) -%}
[{{ title }}:{{ caller() }}]
{%- endmacro %}
{% macro render_type(t) -%}
{%- if t.type == 'array' -%}list[{{ render_type(t['items']) }}]{%- elif t.type == 'object' -%}dict{%- else -%}{{ t.type }}{%- endif -%}
{%- endmacro %}
{{ tag('b') }}|{{ tag('i', 'x') }}|{{ tag('a', body='y', attrs='href="z"') }}
{% call wrap('T') %}inside {{ messages | length }}{% endcall %}

{{ render_type({'type': 'array', 'items': {'type': 'array', 'items': {'type': 'string'}}}) }}
{% for m in messages %}{{ tag(m.role, m.content if m.content is string else '') }}
{% endfor %}""", convs=SMALL)

T("t_setblock", "constructs: set blocks, filter blocks, with", """{% set header %}
Roles: {% for m in messages %}{{ m.role }}{{ ',' if not loop.last }}{% endfor %}
{% endset %}
{{ header | trim }}|{{ header | length }}
{% set shout | upper %}quiet {{ messages[0].role }}{% endset %}{{ shout }}
{% filter upper %}filtered {{ messages | length }}{% endfilter %}

{% with x = 5, y = 'w' %}{{ x }}{{ y }}{% endwith %}""", convs=SMALL)

T("t_filters_str", "constructs: string filters", """{% set s = '  Hello wORLD, hello again  ' %}
[{{ s | trim }}][{{ s | upper }}][{{ s | lower }}][{{ s | trim | capitalize }}][{{ s | trim | title }}]
[{{ s | replace('hello', 'bye') }}][{{ s | replace('l', 'L', 2) }}][{{ s | wordcount }}][{{ s | length }}][{{ s | count }}]
[{{ 'abcdefghijklmnopqrstuvwxyz0123456789' | truncate(20) }}][{{ 'short' | truncate(20) }}][{{ 'a b c d e f g h i j k l m' | truncate(15, true, '..') }}]
[{{ 'line1\\nline2\\nline3' | indent(2) }}][{{ 'l1\\nl2' | indent(4, true) }}][{{ 'l1\\n\\nl2' | indent(2, first=true, blank=true) }}]
[{{ '<a href="x">&amp;</a>' | escape }}][{{ '<b>' | e }}][{{ '<i>' | safe }}][{{ s | first }}][{{ s | trim | last }}]
[{{ 42 | string }}][{{ none | string }}][{{ true | string }}][{{ [1, 'a'] | string }}][{{ {'k': 'v'} | string }}][{{ 1.50 | string }}]
[{{ undefined_var | default('dflt') }}][{{ '' | default('empty', true) }}][{{ '' | d('x') }}][{{ none | default('nd') }}][{{ false | d('f', boolean=true) }}]
[{{ 'abc' | reverse }}][{{ 'a-b-c' | replace('-', '') }}][{{ 'x' | center(5) }}][{{ 'Tab\\there' | trim }}][{{ '--x--' | trim('-') }}]
[{{ 'hello world' | title }}][{{ "they're bill's" | title }}][{{ 'ÉCOLE' | lower }}][{{ 'straße' | upper }}][{{ '%s=%d' | format('n', 5) }}]""", convs=["user"])

T("t_filters_num", "constructs: numeric filters and arithmetic", """[{{ '42' | int }}][{{ '3.9' | int }}][{{ 'x' | int }}][{{ 'x' | int(7) }}][{{ 3.99 | int }}][{{ '0x1A' | int(0, 16) }}]
[{{ '2.5' | float }}][{{ 3 | float }}][{{ 'y' | float }}][{{ 2.567 | round }}][{{ 2.567 | round(2) }}][{{ 2.5 | round }}][{{ 2.1 | round(0, 'ceil') }}][{{ 2.9 | round(0, 'floor') }}]
[{{ -3 | abs }}][{{ -2.5 | abs }}][{{ [1, 2, 3.5] | sum }}][{{ [3, 1, 2] | min }}][{{ [3, 1, 2] | max }}][{{ ['b', 'A', 'c'] | max }}][{{ ['b', 'A', 'c'] | min(case_sensitive=true) }}]
[{{ 7 / 2 }}][{{ 7 // 2 }}][{{ -7 // 2 }}][{{ 7 % 3 }}][{{ -7 % 3 }}][{{ 2 ** 10 }}][{{ 2 ** -1 }}][{{ 1 + 2 * 3 }}][{{ (1 + 2) * 3 }}][{{ 10 / 5 }}][{{ 1e3 }}][{{ 0.1 + 0.2 }}]
[{{ 3 > 2 }}][{{ 3 >= 3 }}][{{ 1 == 1.0 }}][{{ 1 != 2 }}][{{ 'a' < 'b' }}][{{ -1 }}][{{ - (2 + 3) }}][{{ 5 | string + '!' }}][{{ 12345678901234567890 }}][{{ 1.0 }}][{{ 100.0 / 3 }}]
[{{ [{'n': 2}, {'n': 5}] | sum(attribute='n') }}][{{ [1, 2] | sum(start=10) }}][{{ messages | length * 2 }}][{{ 3 | filesizeformat }}]""", convs=["user"])

T("t_filters_list", "constructs: list filters", """{% set people = [{'name': 'bo', 'age': 30, 'tags': ['x']}, {'name': 'al', 'age': 25}, {'name': 'cy', 'age': 30}] %}
[{{ people | selectattr('age', 'equalto', 30) | map(attribute='name') | join(',') }}][{{ people | rejectattr('age', 'eq', 30) | map(attribute='name') | list }}]
[{{ people | selectattr('tags', 'defined') | map(attribute='name') | first }}][{{ people | rejectattr('tags') | list | length }}][{{ people | map(attribute='missing', default='?') | join }}]
[{{ people | sort(attribute='name') | map(attribute='name') | join(' ') }}][{{ people | sort(attribute='age,name') | map(attribute='name') | join(' ') }}][{{ [3, 1, 2] | sort(reverse=true) | list }}]
[{{ ['B', 'a', 'C'] | sort | join }}][{{ ['B', 'a', 'C'] | sort(case_sensitive=true) | join }}][{{ ['a', 'b', 'a', 'A'] | unique | list }}][{{ [1, 2, 3, 4, 5] | batch(2) | list }}][{{ [1, 2, 3, 4, 5] | batch(2, 0) | list }}]
[{{ [1, 2, 3, 4, 5] | slice(2) | list }}][{{ {'b': 1, 'a': 2, 'C': 3} | dictsort }}][{{ {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) }}][{{ {'x': 1, 'y': [2]} | items | list }}]
[{{ ['a', 'b'] | map('upper') | join('-') }}][{{ [1, 2, 3] | select('odd') | list }}][{{ [1, 2, 3] | reject('odd') | list }}][{{ [1, 2, 3] | select('gt', 1) | list }}][{{ messages | map(attribute='role') | unique | join('/') }}]
[{{ messages | first | attr('role') }}][{{ (messages | last).role }}][{{ people | groupby('age') | map(attribute='grouper') | list }}][{{ people | map(attribute='name') | reverse | join }}][{{ [[1], [2, 3]] | sum(start=[]) }}]
[{{ people[0].tags | length }}][{{ people | length }}][{{ 'abc' | list }}][{{ range(2, 8, 2) | list }}][{{ [1, 2] + [3] }}][{{ [none, 1] | map('string') | join }}][{{ ['x', 1, 2.5] | join('|') }}]""", convs=SMALL)

T("t_tests", "constructs: tests", """{% set d = {'a': 1} %}{% set l = [1, 2] %}{% set n = none %}
defined: {{ d is defined }} {{ nope is defined }} {{ nope is undefined }} {{ d.a is defined }} {{ d.zz is defined }} {{ n is defined }} {{ tools is defined }} {{ documents is defined }}
none: {{ n is none }} {{ d is none }} {{ n is not none }} {{ tools is none }}
types: {{ 'x' is string }} {{ 1 is string }} {{ d is mapping }} {{ l is mapping }} {{ l is iterable }} {{ 'x' is iterable }} {{ d is iterable }} {{ 1 is iterable }} {{ l is sequence }} {{ 'x' is sequence }} {{ d is sequence }}
nums: {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 'x' is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ 1.0 is integer }}
bools: {{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }} {{ none is false }}
cmp: {{ 3 is divisibleby 3 }} {{ 4 is divisibleby(3) }} {{ 3 is odd }} {{ 4 is even }} {{ 2 is eq 2 }} {{ 2 is equalto 3 }} {{ 2 is ne 3 }} {{ 1 is lt 2 }} {{ 1 is gt 2 }} {{ 2 is ge 2 }} {{ 2 is le 1 }} {{ 'x' is sameas 'x' }}
in: {{ 1 is in l }} {{ 'a' is in d }} {{ 'b' is in 'abc' }} {{ 'z' is in 'abc' }}
case: {{ 'abc' is lower }} {{ 'aBc' is lower }} {{ 'ABC' is upper }} {{ range is callable }} {{ 'x' is callable }} {{ none is escaped }}""", convs=["user", "tools"])

T("t_strmethods", "constructs: Python str methods", """{% set s = '  Hello, World!  ' %}
[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ '--x--'.strip('-') }}][{{ 'xxhixx'.lstrip('x') }}][{{ '\\n\\nhi\\n'.rstrip('\\n') }}]
[{{ 'a,b,,c'.split(',') }}][{{ ' a  b c '.split() }}][{{ 'a b c'.split(' ', 1) }}][{{ 'a/b/c'.rsplit('/', 1) }}][{{ 'l1\\nl2\\n'.splitlines() }}]
[{{ s.strip().startswith('Hello') }}][{{ s.strip().endswith('!') }}][{{ 'abc'.startswith(('x', 'a')) }}][{{ 'abc'.endswith('bc') }}]
[{{ 'MiXeD'.upper() }}][{{ 'MiXeD'.lower() }}][{{ 'hello world'.title() }}][{{ 'hello World'.capitalize() }}][{{ 'Ab'.swapcase() }}]
[{{ 'a-b-c'.replace('-', '+') }}][{{ 'a-b-c'.replace('-', '', 1) }}][{{ 'abcabc'.find('c') }}][{{ 'abcabc'.rfind('c') }}][{{ 'abcabc'.count('b') }}][{{ 'abc'.index('b') }}]
[{{ '{} and {}'.format('x', 1) }}][{{ '{name}!'.format(name='N') }}][{{ ', '.join(['a', 'b']) }}][{{ '7'.zfill(3) }}][{{ 'ab'.ljust(4, '.') }}][{{ 'ab'.rjust(4) }}][{{ 'ab'.center(6, '*') }}]
[{{ 'abc'.isalpha() }}][{{ '123'.isdigit() }}][{{ '  '.isspace() }}][{{ 'x'.isupper() }}][{{ 'prefix_rest'.removeprefix('prefix_') }}][{{ 'a=b'.partition('=') }}]
{% for m in messages %}{{ m.role.upper()[:3] }}{{ m.content.strip()[:5] if m.content is string else '' }};{% endfor %}""", convs=SMALL)

T("t_dictmethods", "constructs: dict methods, membership, item vs attribute access", """{% set d = {'z': 1, 'a': [2, 3], 'm': {'k': 'v'}} %}
[{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}][{{ d.keys() | list }}][{{ d.values() | list }}][{{ d.get('a') }}][{{ d.get('q') }}][{{ d.get('q', 'def') }}]
[{{ 'z' in d }}][{{ 'q' in d }}][{{ 'q' not in d }}][{{ d['m']['k'] }}][{{ d.m.k }}][{{ d['zz'] is defined }}][{{ d | length }}][{{ d.items() | list | length }}]
{% set t = tools[0].function if tools else {'name': 'none', 'parameters': {'properties': {}}} %}
{{ t.name }}:{% for pname, pspec in t.parameters.properties.items() %} {{ pname }}({{ pspec.type }}{{ ', required' if pname in t.parameters.get('required', []) }}){% endfor %}
{% for m in messages %}{{ m.keys() | list | join(',') }}|{% endfor %}
{{ dict(a=1, b='x') }}{{ dict(a=1)['a'] }}""", convs=SMALL)

T("t_slicing", "constructs: slicing and negative indices", """{% set s = 'abcdefg' %}{% set l = [0, 1, 2, 3, 4, 5] %}
[{{ s[1:] }}][{{ s[:-1] }}][{{ s[::-1] }}][{{ s[::2] }}][{{ s[1:5:2] }}][{{ s[-1] }}][{{ s[-3:] }}][{{ s[10:] }}][{{ s[0] }}]
[{{ l[1:] }}][{{ l[:2] }}][{{ l[::-1] }}][{{ l[-1] }}][{{ l[-2:] }}][{{ l[2:4] }}][{{ l[::3] }}][{{ l[5:1:-2] }}]
{% for m in messages[1:] %}{{ m.role }} {% endfor %}|{% for m in messages[::-1] %}{{ m.role }} {% endfor %}|{{ messages[-1].role }}|{{ (messages | reverse | list)[0].role }}""", convs=SMALL)

T("t_concat", "constructs: ~, + and * on strings and numbers", """{{ 'a' ~ 1 ~ 2.5 ~ true ~ none }}|{{ 'a' + 'b' }}|{{ 1 + 2 }}|{{ 1.5 + 1 }}|{{ '=' * 5 }}|{{ 3 * '-' }}|{{ [0] * 3 }}|{{ 'n' ~ messages | length }}
{% for m in messages %}{{ loop.index ~ '. ' ~ m.role ~ ': ' ~ (m.content if m.content is string else m.content | map(attribute='text') | join) }}
{% endfor %}""", convs=["user", "sys_multi", "parts"])

T("t_concat_error", "constructs: str + list raises (TypeError)", """{% for m in messages %}{{ m.role + ': ' + m.content }}{% endfor %}""", convs=["user", "parts"])

T("t_in_inline", "constructs: in, not in, inline if/else, and/or values", """{% for m in messages %}{{ 'U' if m.role == 'user' else ('A' if m.role == 'assistant' else 'O') }}{{ '?' if '?' in (m.content if m.content is string else '') }}{% endfor %}
[{{ 'b' in 'abc' }}][{{ 2 in [1, 2] }}][{{ 'x' not in ['y'] }}][{{ 'role' in messages[0] }}][{{ 'tool_calls' in messages[0] }}]
[{{ 0 or 'fallback' }}][{{ '' and 'x' }}][{{ 'a' and 'b' }}][{{ none or [] }}][{{ not none }}][{{ 'yes' if [] else 'no' }}][{{ 'yes' if {} else 'no' }}][{{ 'yes' if '0' else 'no' }}][{{ 'yes' if 0.0 else 'no' }}]
[{{ 'x' if false }}][{{ 1 if true else 2 }}][{{ (1, 2) }}][{{ (1,) }}][{{ true and not false }}]""", convs=SMALL)

T("t_whitespace", "constructs: whitespace control, trim_blocks, lstrip_blocks, comments", """Start
    {% if true %}
    indented line
    {% endif %}
  {# a comment #}
Line after comment
    {%- if true %}
stripped-left
    {% endif -%}
   next
{% for m in messages %}
  - {{ m.role }}
{% endfor %}
{%+ if true %}plus-kept{% endif %}
{{- '  spaced  ' -}}
  end
{% raw %}{{ not rendered }} {% if %}{% endraw %}
{{ 'x' }}
{{ 'y' }}
""", convs=SMALL)

T("t_generation", "constructs: transformers' {% generation %} tag", """{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}
{% endfor %}""", convs=["sys_multi", "multi"])

T("t_raise", "constructs: raise_exception with composed messages", """{% for m in messages %}{% if m.role not in ['system', 'user', 'assistant'] %}{{ raise_exception('Unknown role: ' + m.role + ' at index ' ~ loop.index0) }}{% endif %}{{ m.role }} {% endfor %}""", convs=["sys_multi", "tools"])

T("t_raise_macro", "constructs: raise_exception from a macro and in a set", """{% macro check(m) %}{% if m.content is not string %}{{ raise_exception("Content of " ~ m.role ~ " must be a string, got " ~ (m.content | length) ~ " parts") }}{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{{ m.content }}|{% endfor %}""", convs=["user", "parts"])

T("t_strftime", "constructs: strftime_now formats", """{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A, %B %d, %Y') }}|{{ strftime_now('%H:%M:%S %p %j %a %y %I') }}|{{ strftime_now('%-d') if false else 'x' }}|{{ strftime_now('%%') }}""", convs=["user"])

T("t_tojson", "constructs: transformers' tojson options", """{% if tools %}{{ tools | tojson }}
{{ tools[0].function.parameters | tojson(indent=2) }}{% endif %}
{{ {'é': 'ü', 'emoji': '😀', 'q': '"<>&\\''} | tojson }}|{{ {'é': 'ü', 'emoji': '😀'} | tojson(ensure_ascii=true) }}
{{ {'b': 1, 'a': {'d': 2.0, 'c': [1.5, none, true]}} | tojson(sort_keys=true) }}|{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}|{{ {'a': [1, 2]} | tojson(indent='\\t') }}
{{ 'str' | tojson }}|{{ 1 | tojson }}|{{ 1.0 | tojson }}|{{ none | tojson }}|{{ [] | tojson }}|{{ {} | tojson(indent=2) }}|{{ 1e20 | tojson }}|{{ 0.00001 | tojson }}
{% for m in messages %}{{ m | tojson }}
{% endfor %}""", convs=["tools", "unicode"])

T("t_kwargs", "constructs: custom kwargs and special tokens as variables", """{{ bos_token }}|{{ eos_token }}|{{ custom_flag if custom_flag is defined else 'no-flag' }}|{{ options.level if options is defined else '-' }}|{{ enable_thinking is defined and enable_thinking }}|{{ unk_token is defined }}|{{ add_generation_prompt }}""", convs=["user", "think", "kwargs"])

T("t_documents", "constructs: documents loop (Command-R / RAG style)", """{% if documents %}<documents>
{% for doc in documents %}Document: {{ loop.index0 }}
{% for k, v in doc | dictsort %}{{ k }}: {{ v }}
{% endfor %}{% endfor %}</documents>
{% endif %}{% for m in messages %}{{ m.role }}: {{ m.content }}
{% endfor %}""", convs=["user", "documents"])

T("t_none", "constructs: none handling and dropped None message keys", """{% for m in messages %}{{ m.role }}: content {{ 'defined' if m.content is defined else 'undefined' }}, tool_calls {{ 'defined' if m.tool_calls is defined else 'undefined' }}, reasoning={{ m.reasoning_content | default('-') }}, thinking={{ m.thinking | default('-') }};{% if m.tool_calls is defined %}{% for tc in m.tool_calls %} {{ tc.function.arguments.get('missing') is none }}{% endfor %}{% endif %}
{% endfor %}{{ none is none }} {{ [none] | length }} {{ {'a': none}.a is none }}""", convs=["tools", "think"])

T("t_literals", "constructs: string escapes, literals, range, tuple unpacking", """{{ "tab\\there" }}|{{ 'quote\\'s' }}|{{ "dq\\"x" }}|{{ 'uni\\u00e9' }}|{{ 'nl\\nnext' }}|{{ [1, 'two', 3.0, true, none] | length }}|{{ true }}|{{ True }}|{{ false }}|{{ False }}
{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 4) %}{{ i }}{% endfor %}|{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }}{% endfor %}|{{ range(5) | list | length }}""", convs=["user"])


# ---------------------------------------------------------------- rendering

CONVERSATIONS["kwargs"] = {
    "messages": [{"role": "user", "content": "hi"}],
    "custom_flag": "on",
    "options": {"level": 3, "names": ["a", "b"]},
    "enable_thinking": True,
}


def render(tpl, conv, agp):
    conv = json.loads(json.dumps(conv))  # a private copy
    messages = ctu._normalize_chat_messages(conv.pop("messages"))
    tools = conv.pop("tools", None)
    documents = conv.pop("documents", None)
    specials = {}
    if tpl["bos"] is not None:
        specials["bos_token"] = tpl["bos"]
    if tpl["eos"] is not None:
        specials["eos_token"] = tpl["eos"]
    kwargs = {**specials, **conv}
    try:
        out, _ = ctu.render_jinja_template(
            conversations=[messages],
            tools=tools,
            documents=documents,
            chat_template=tpl["template"],
            add_generation_prompt=agp,
            **kwargs,
        )
        return {"rendered": out[0]}
    except jinja2.exceptions.TemplateSyntaxError as e:
        raise SystemExit(f"{tpl['name']}: template syntax error: {e} (line {e.lineno})")
    except jinja2.exceptions.TemplateError as e:
        if type(e) is jinja2.exceptions.TemplateError:  # raise_exception
            return {"raise": str(e)}
        return {"error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # TypeError, ValueError, ...
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".json"):
            os.remove(os.path.join(OUT, f))
    total = 0
    for tpl in TEMPLATES:
        cases = []
        for cname in tpl["convs"]:
            for agp in (False, True):
                res = render(tpl, CONVERSATIONS[cname], agp)
                cases.append({"conversation": cname, "add_generation_prompt": agp, **res})
        fixture = {
            "name": tpl["name"],
            "imitates": tpl["imitates"],
            "template": tpl["template"],
            "bos_token": tpl["bos"],
            "eos_token": tpl["eos"],
            "now": FIXED_NOW.isoformat(),
            "cases": cases,
        }
        with open(os.path.join(OUT, tpl["name"] + ".json"), "w", encoding="utf-8") as fh:
            json.dump(fixture, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        total += len(cases)
        kinds = {}
        for c in cases:
            k = "rendered" if "rendered" in c else ("raise" if "raise" in c else "error")
            kinds[k] = kinds.get(k, 0) + 1
        print(f"{tpl['name']}: {kinds}", file=sys.stderr)
    with open(os.path.join(OUT, "conversations.json"), "w", encoding="utf-8") as fh:
        json.dump(CONVERSATIONS, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    print(f"{len(TEMPLATES)} templates, {total} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
