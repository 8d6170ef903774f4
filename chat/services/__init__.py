"""Chat writes: ask (blocking or streamed), rename, delete, export.

Modules: answer (one question in a scope, no session: validation, cache, retrieval,
answerer, ledger), ask (save the question + its pending answer; the one-call flow REST and
the CLI use), reply (stream the pending answer, reconnect-safe), sessions (rename,
delete), export (Markdown/JSON download). The names below are the package's public surface;
signatures are the contract the chat UI and the REST API build on.
"""

from chat.services.answer import (
    CACHE_TTL_SECONDS,
    EMPTY_LIBRARY,
    EMPTY_SCOPE,
    MAX_MESSAGE_CHARS,
    Answer,
    EmptyLibraryError,
    answer_stream,
    chat_scope,
    ledger_record,
    question_answer,
)
from chat.services.ask import (
    ChatResult,
    PendingAnswer,
    chat_ask,
    chat_ask_stream,
    chat_question_save,
)
from chat.services.export import session_export
from chat.services.reply import chat_answer_stream
from chat.services.sessions import (
    TITLE_MAX_LENGTH,
    session_delete,
    session_rename,
    session_title_clean,
)

__all__ = [
    "CACHE_TTL_SECONDS",
    "EMPTY_LIBRARY",
    "EMPTY_SCOPE",
    "MAX_MESSAGE_CHARS",
    "TITLE_MAX_LENGTH",
    "Answer",
    "ChatResult",
    "EmptyLibraryError",
    "PendingAnswer",
    "answer_stream",
    "chat_answer_stream",
    "chat_ask",
    "chat_ask_stream",
    "chat_question_save",
    "chat_scope",
    "ledger_record",
    "question_answer",
    "session_delete",
    "session_export",
    "session_rename",
    "session_title_clean",
]
