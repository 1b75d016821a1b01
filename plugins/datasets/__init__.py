"""Built-in datasets (the ``zoo_register_datasets`` hook): real labelled text that ships in
packages, so training works offline. See ../shared/DATA.md for sources and licences."""
from zoo_core import hookimpl


@hookimpl
def zoo_register_datasets(register):
    register("wordfreq_langid", loader="zoo_plugins.datasets.langid:load",
             summary="word-level language identification: the most frequent words of 42 languages "
                     "(PyPI wordfreq), words shared by several languages dropped; word-disjoint splits",
             license="cc-by-sa-4.0", url="https://pypi.org/project/wordfreq/")
    register("fortunes", loader="zoo_plugins.datasets.fortunes:load",
             summary="short texts labelled by fortune category (Debian package 'fortunes'; "
                     "fortunes-de/-es/-it/-ru add languages with languages=true)",
             license="other", url="https://packages.debian.org/fortunes")


@hookimpl(specname="zoo_register_datasets")
def register_lemmas(register):
    register("lemmas", loader="zoo_plugins.datasets.lemmas:load",
             summary="word forms labelled by lemma (PyPI spacy-lookups-data, 27 languages): retrieval, a word "
                     "retrieves the other forms of its lemma; evaluation forms unseen in training",
             license="mit", url="https://pypi.org/project/spacy-lookups-data/")


@hookimpl(specname="zoo_register_datasets")
def register_modular_arithmetic(register):
    register("modular_arithmetic", loader="zoo_plugins.datasets.modular:load",
             summary="a op b mod p for op in + - / (the grokking data set); options p, op, train_fraction",
             license="generated", url="https://arxiv.org/abs/2201.02177")


@hookimpl(specname="zoo_register_datasets")
def register_wordnet_glosses(register):
    register("wordnet_glosses", loader="zoo_plugins.datasets.wordnet:load",
             summary="sentence-level: WordNet gloss definitions -> their 45 lexicographer categories (noun.food, "
                     "verb.motion, ...), Debian package 'wordnet-base'; options root, examples, n_train/n_valid/n_test",
             license="wordnet", url="https://wordnet.princeton.edu/license-and-commercial-use")
