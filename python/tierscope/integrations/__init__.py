"""Adapters for the stacks agent services run on, each behind its own extra.

- :mod:`tierscope.integrations.openai`: ``RoutedOpenAI`` / ``AsyncRoutedOpenAI``, a drop-in
  OpenAI client that routes (or cascades) each chat completion across tiers ``[openai]``;
- :mod:`tierscope.integrations.litellm`: a LiteLLM routing strategy and logger ``[litellm]``;
- :mod:`tierscope.integrations.langchain`: ``RoutedChatModel``, a LangChain chat model
  (Runnable) that routes between chat models ``[langchain]``;
- :mod:`tierscope.integrations.otel`: OpenTelemetry spans with gen_ai attributes, joined to the
  decision log by trace and span ids ``[otel]``;
- :mod:`tierscope.integrations.testing`: a local OpenAI-compatible server (stdlib only) for tests.

Nothing here is imported by ``import tierscope``; each module imports only its own stack.
"""
