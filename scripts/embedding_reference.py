#!/usr/bin/env python3
"""Reference sentence embeddings from sentence-transformers itself, for parity tests.

    pip install sentence-transformers
    python3 scripts/embedding_reference.py MODEL_DIR NAME fixtures/OUT.json

MODEL_DIR is a sentence-transformers folder (scripts/fetch-models.sh puts all-MiniLM-L6-v2
and all-mpnet-base-v2 under $AUTOBRANCH_MODELS) and NAME its Hugging Face name, recorded in
the fixture:

    python3 scripts/embedding_reference.py $AUTOBRANCH_MODELS/all-minilm-l6-v2 \
        sentence-transformers/all-MiniLM-L6-v2 fixtures/minilm_reference.json
    python3 scripts/embedding_reference.py $AUTOBRANCH_MODELS/all-mpnet-base-v2 \
        sentence-transformers/all-mpnet-base-v2 fixtures/mpnet_reference.json

The texts cover short and long inputs (beyond 384 tokens, so both models' truncation is
exercised), punctuation only, non-English scripts, emoji, duplicates and the empty string.
"""
import json
import sys

LONG = " ".join(
    f"Sentence {i} of a long report on the colony's water reclaimers, which failed twice in the dust season."
    for i in range(40)
)

TEXTS = [
    "",
    "Hello world",
    "Hello world",
    "hello WORLD!!!",
    "The detective discovers that the victim faked their own death.",
    "The detective realizes the victim staged their own death.",
    "A dust storm buries the only witness under the colony dome.",
    "The colony's AI confesses, but its logs were forged.",
    "Red dust covered the greenhouse domes as the sun set over Olympus Mons.",
    "She woke up remembering nothing but a string of numbers.",
    "The memory came back in pieces: a lab, a name, a promise.",
    "They married at the airport gate; the flight left without them.",
    "The groom turned out to be a llama in a very convincing suit.",
    "He wrote her one last letter and never sent it.",
    "The old man looked at the sea and did not speak for a long time.",
    "It is a truth universally acknowledged that a single man in possession of a good fortune must be in want of a wife.",
    "The cat disappeared into the well, and the well into the night.",
    "...",
    "?!?!",
    "— – - ‒",
    "(((())))",
    "12345 67890",
    "3.14159 2.71828 1.41421",
    "C'est la vie, mon ami.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El zorro marrón rápido salta sobre el perro perezoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "素早い茶色の狐が怠け者の犬を飛び越える。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
    "🚀🌕👽",
    "I love pizza 🍕 and tacos 🌮!",
    "😀😃😄😁😆😅😂🤣",
    "Tabs\tand\nnewlines\n\nin text",
    "   leading and trailing spaces   ",
    "UPPERCASE SENTENCE FOR NO REASON",
    "lowercase sentence for no reason",
    "Flask, FastAPI or Django?",
    "If it rains then we stay inside, else we go for a walk.",
    "1. Flask\n2. FastAPI\n3. Django",
    "https://example.com/path?query=1&other=2",
    "user@example.com wrote: see attached.",
    "def f(x): return x * 2",
    "SELECT * FROM candidates WHERE score > 0.5;",
    "supercalifragilisticexpialidocious",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a",
    "I",
    "The quick brown fox jumps over the lazy dog.",
    "The quick brown fox jumps over the lazy dog.",
    LONG,
    LONG + " And one more sentence that the model never sees.",
    "Write one sentence: a plot twist for a detective story set in a Mars colony.",
    "Here are some plot twists you could use for your story.",
]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    folder, name, path = sys.argv[1:]
    model = SentenceTransformer(folder, device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=True, batch_size=16)
    out = {
        "model": name,
        "made_by": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
        "max_seq_length": model.max_seq_length,
        "texts": TEXTS,
        "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(TEXTS)} reference vectors to {path}")


if __name__ == "__main__":
    main()
