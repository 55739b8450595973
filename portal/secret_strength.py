"""What a production secret must be: long, and hard to guess by zxcvbn's estimate.

A length check alone passes `'0123456789' * 4` or thirty-two `a`s; zxcvbn (Dropbox's estimator)
recognises repeats, sequences, keyboard patterns and dictionary words and estimates how many
guesses a secret would take. A random `secrets.token_urlsafe(32)` is estimated far above the bar;
anything a person typed rarely is.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 32
#: About 100 bits of guessing work: 10^30 guesses by zxcvbn's estimate of the first 72 characters.
MIN_GUESSES_LOG10 = 30.0
ESTIMATED_PREFIX = 72


def secret_problem(value: str) -> str | None:
    """Why `value` is not a production secret, or None when it is one."""
    if len(value) < MIN_LENGTH:
        return f"it has {len(value)} characters; at least {MIN_LENGTH} are needed"
    estimate = zxcvbn(value[:ESTIMATED_PREFIX], max_length=ESTIMATED_PREFIX)
    if estimate["guesses_log10"] < MIN_GUESSES_LOG10:
        found = sorted({match["pattern"] for match in estimate["sequence"]} - {"bruteforce"})
        return "it is guessable" + (f" ({', '.join(found)})" if found else "")
    return None
