"""Character-level text: reading a UTF-8 corpus, training a stateful char LSTM, sampling from it."""

from .corpus import Vocabulary, decode_corpus, read_corpus, stream_batches, unigram_entropy
from .model import CharModel, train

__all__ = ["Vocabulary", "read_corpus", "decode_corpus", "stream_batches", "unigram_entropy", "CharModel", "train"]
