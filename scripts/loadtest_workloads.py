"""Workloads for the load test, as lists of conversations.

A conversation is a list of user turns (strings). A single-turn workload is a list of
one-turn conversations. The prompt of turn t is
    turn_1 + reply_1 + turn_2 + reply_2 + ... + turn_t,
so every turn extends the previous prompt with the model's own reply (multi-turn chat);
for one-turn conversations the prompt is just the turn.

Lengths are counted in words; with the bundled stories260K vocabulary a word is about
one to two tokens. Everything is drawn from random.Random(seed): the same arguments
always give the same prompts.
"""

import random

# Simple story words: the bundled model was trained on TinyStories.
VOCABULARY = (
    "once upon a time there was little girl boy named lily tom ben who loved to play "
    "outside in the park garden with her his big red blue ball dog cat friend mom dad "
    "one day she he saw found went happy sad very tree sun sky bird flower toy box "
    "and then they ran jumped smiled said look what is this can we go home now it "
    "was fun together after that all sunny morning every wanted share small bright"
).split()

WORKLOADS = ("fixed", "shared-prefix", "multi-turn", "random")


def words(rng, count):
    return " ".join(rng.choice(VOCABULARY) for _ in range(count))


def fixed_prompt(num_prompts, length, seed):
    """The same prompt num_prompts times: the most cache-friendly workload."""
    rng = random.Random(seed)
    text = "Once upon a time " + words(rng, max(length - 4, 0))
    return [[text] for _ in range(num_prompts)]


def shared_prefix(groups, prompts_per_group, system_len, question_len, seed):
    """SGLang's generated-shared-prefix shape: each group shares one system prompt,
    each prompt adds its own question. Order is shuffled so groups interleave."""
    rng = random.Random(seed)
    out = []
    for g in range(groups):
        system = "Story %d. " % g + words(rng, system_len)
        for _ in range(prompts_per_group):
            out.append([system + " Question: " + words(rng, question_len) + "."])
    rng.shuffle(out)
    return out


def multi_turn(conversations, turns, system_len, question_len, seed):
    """Chats whose every turn extends the previous prompt plus the model's reply."""
    rng = random.Random(seed)
    out = []
    for c in range(conversations):
        first = "Chat %d. " % c + words(rng, system_len) + " User: " + words(rng, question_len) + "."
        rest = [" User: " + words(rng, question_len) + "." for _ in range(turns - 1)]
        out.append([first] + rest)
    return out


def random_prompts(num_prompts, input_len, seed):
    """Unrelated prompts of random length in [input_len/2, input_len] words."""
    rng = random.Random(seed)
    lo = max(1, input_len // 2)
    return [[words(rng, rng.randint(lo, max(lo, input_len)))] for _ in range(num_prompts)]


def build(args):
    """Conversations for the parsed command line (see loadtest.py for the flags)."""
    if args.workload == "fixed":
        return fixed_prompt(args.num_prompts, args.system_len + args.question_len, args.seed)
    if args.workload == "shared-prefix":
        return shared_prefix(args.groups, args.prompts_per_group, args.system_len,
                             args.question_len, args.seed)
    if args.workload == "multi-turn":
        return multi_turn(args.conversations, args.turns, args.system_len, args.question_len,
                          args.seed)
    if args.workload == "random":
        return random_prompts(args.num_prompts, args.system_len + args.question_len, args.seed)
    raise ValueError("unknown workload " + repr(args.workload))


def prompt_for_turn(turns, replies, t):
    """The prompt of turn t (0-based) given the replies to turns 0..t-1."""
    parts = []
    for i in range(t):
        parts.append(turns[i])
        parts.append(replies[i])
    parts.append(turns[t])
    return "".join(parts)


def distinct(conversations):
    """Conversations with duplicates removed, first occurrence order kept."""
    seen = set()
    out = []
    for conv in conversations:
        key = tuple(conv)
        if key not in seen:
            seen.add(key)
            out.append(conv)
    return out
