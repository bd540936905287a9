"""Chinese text drawn as characters: SmolLM2's byte-level BPE splits most Chinese characters over
two or three tokens, each "�" on its own. Every place that shows its tokens (the generated text,
the token slider, alternatives, the attention page, the prompt's pieces) reads them as characters,
with the split shown ("注 1/2" on the piece that starts it)."""

from backend.attention.weights import attention
from backend.generation.generation_figures import step_texts, steps_html
from backend.generation.token_steps import Step
from backend.runtime.model_cache import get_model
from backend.runtime.registry import SMOLLM2
from backend.shared.tokens import characters, piece_text, readable, token_bytes

SENTENCE = "注意力机制让模型关注其他词。Hello 世界"


def test_split_characters_are_read_whole_and_the_split_is_shown():
    tokenizer = get_model(SMOLLM2.key).preprocessor
    ids = tokenizer(SENTENCE, add_special_tokens=False)["input_ids"]
    raw = [tokenizer.decode([i]) for i in ids]
    assert sum("\ufffd" in piece for piece in raw) >= 10  # what a page showed before
    texts = readable(tokenizer, ids)
    assert not any("\ufffd" in text for text in texts)
    assert len(texts) == len(ids)
    whole = [text for text in texts if not (len(text) > 2 and text[-2] == "/" and text[1] == " ")]
    assert "".join(whole) == SENTENCE  # each character once, on the token that completes it
    assert "意 1/3" in texts and "意 2/3" in texts  # a character over three tokens, its parts named
    assert b"".join(token_bytes(tokenizer, ids)).decode("utf-8") == SENTENCE


def test_bytes_that_are_not_utf8_or_cut_short_show_as_bytes():
    assert characters([b"\xe4\xb8", b"\x96", b"\xff", b"ab", b"\xe7"]) == ["世 1/2", "世", "\\xff", "ab", "\\xe7"]


def test_generated_steps_and_alternatives_read_chinese_as_characters():
    tokenizer = get_model(SMOLLM2.key).preprocessor
    ids = tokenizer("机制", add_special_tokens=False)["input_ids"]
    steps = [Step(k, i, piece_text(tokenizer, i), 0.5, 1, 0.1, (), raw=token_bytes(tokenizer, [i])[0])
             for k, i in enumerate(ids)]
    assert not any("\ufffd" in step.text for step in steps)  # alone: its bytes
    assert any(step.text.startswith("\\x") for step in steps)
    texts = step_texts(steps)
    assert texts[-1] == "制" and "机" in texts and not any("\ufffd" in text for text in texts)
    page = steps_html(steps)
    assert "\ufffd" not in page and "机" in page and "制" in page


def test_the_attention_page_on_smollm2_labels_chinese_tokens_as_characters():
    result = attention(SENTENCE, SMOLLM2.key)
    assert not any("\ufffd" in token for token in result.tokens)
    assert "模" in result.tokens and "界" in result.tokens


def test_the_tokenizer_view_shows_why_an_english_encoder_reads_chinese_badly():
    from backend.attention.tokenizing import cut
    from backend.runtime.registry import MINILM

    sentence = "注意力机制让模型关注其他词。"
    wordpiece, bpe = cut(MINILM.key, sentence), cut(SMOLLM2.key, sentence)
    assert wordpiece.characters == bpe.characters == 14
    assert wordpiece.unknown >= 10 and wordpiece.tokens.count("[UNK]") == wordpiece.unknown
    assert bpe.unknown == 0 and bpe.count >= 2 * bpe.characters - 5  # most characters take two or three
    assert not any("\ufffd" in token for token in bpe.tokens)
