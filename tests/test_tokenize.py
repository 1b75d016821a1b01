from zoo_core.runspec import TokenizerConfig
from zoo_core.tokenize import Tokenizer


def test_char_ngrams_are_fasttext_style_with_boundaries():
    tok = Tokenizer(TokenizerConfig(unit="char_ngrams", ngram_min=2, ngram_max=3))
    assert tok("Ab") == ["<ab>", "<a", "ab", "b>", "<ab", "ab>"]
    tok = Tokenizer(TokenizerConfig(unit="char_ngrams", ngram_min=2, ngram_max=3, word_token=False))
    assert tok("Ab") == ["<a", "ab", "b>", "<ab", "ab>"]


def test_words_chars_truncation_and_never_empty():
    assert Tokenizer(TokenizerConfig(unit="words"))("Hello  World") == ["hello", "world"]
    assert Tokenizer(TokenizerConfig(unit="chars", lowercase=False))("Hi!") == ["H", "i", "!"]
    assert Tokenizer(TokenizerConfig(unit="words", max_tokens=2))("a b c d") == ["a", "b"]
    assert Tokenizer(TokenizerConfig(unit="words"))("   ") == [""]
