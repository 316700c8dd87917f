"""The ChatML chat template with tools that the local server uses for the pinned model.

SmolLM2's GGUF ships a ChatML template that ignores ``tools``, so llama.cpp would drop them
(its "content-only" format). This template keeps SmolLM2's ChatML tokens and adds what
llama.cpp's template analysis needs to offer tools and parse calls: the tool schemas in the
system turn, assistant calls as ``<tool_call>{"name": …, "arguments": …}</tool_call>``, and
tool results in their own ``tool`` turns. Tools come right after the (static) system
prompt, so the prompt's cached prefix survives the changing context that follows.
"""

from __future__ import annotations

CHATML_TOOLS_TEMPLATE = r"""
{%- if messages and messages[0].role == 'system' -%}
{%- set system = messages[0].content -%}{%- set rest = messages[1:] -%}
{%- else -%}
{%- set system = '' -%}{%- set rest = messages -%}
{%- endif -%}
{%- if system or tools -%}
{{- '<|im_start|>system\n' + system -}}
{%- if tools -%}
{%- if system %}{{ '\n\n' }}{% endif -%}
{{- 'Functions you can call, one JSON signature a line:\n<tools>' -}}
{%- for tool in tools %}{{ '\n' + (tool | tojson) }}{% endfor -%}
{{- '\n</tools>\nTo call one, answer with only:\n<tool_call>\n' -}}
{{- '{"name": <function name>, "arguments": <arguments object>}\n</tool_call>' -}}
{%- endif -%}
{{- '<|im_end|>\n' -}}
{%- endif -%}
{%- for message in rest -%}
{%- if message.role == 'assistant' -%}
{{- '<|im_start|>assistant' -}}
{%- if message.content %}{{ '\n' + message.content }}{% endif -%}
{%- for call in message.tool_calls or [] -%}
{%- set fn = call.function if call.function is defined else call -%}
{{- '\n<tool_call>\n{"name": "' + fn.name + '", "arguments": ' -}}
{%- if fn.arguments is string %}{{ fn.arguments }}{% else %}{{ fn.arguments | tojson }}{% endif -%}
{{- '}\n</tool_call>' -}}
{%- endfor -%}
{{- '<|im_end|>\n' -}}
{%- else -%}
{{- '<|im_start|>' + message.role + '\n' + (message.content or '') + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif -%}
""".strip()
