"""One sound vocabulary for the whole package: the AudioSet ontology (issue 17).

A leaf package (it imports nothing from ``annotation``, ``generation`` or ``backends``): the tagger, the
describer, the captioners, the prompt writer and retrieval all import their sound words from here.

- :mod:`.ontology`: the 632 classes, their descriptions and tree (parents, children, siblings,
  descendants) and YAMNet's 521 names;
- :mod:`.layers`: :data:`TYPES`, the class -> layer mapping (:func:`class_layer`, :func:`layer_of`),
  :data:`EVENT_LABELS`;
- :mod:`.phrases`: the words a description uses for a class (:data:`PHRASES`, :func:`phrase`) and the
  package's sound words per class (:func:`label_classes`), and :func:`find` (text that names a class
  exactly -> the class).

The ontology data is CC BY-SA 4.0 (Google, https://github.com/audioset/ontology); see the header of
``avshooter/data/audioset_ontology.jsonl``.
"""
from .layers import EVENT_LABELS, LAYERS, TYPES, class_layer, class_layers, layer_of
from .ontology import (AudioClass, by_id, by_name, children, classes, descendants, parents, related, siblings,
                       words, yamnet_names)
from .phrases import PHRASES, find, label_classes, phrase

__all__ = ["EVENT_LABELS", "LAYERS", "PHRASES", "TYPES", "AudioClass", "by_id", "by_name", "children", "classes",
           "class_layer", "class_layers", "descendants", "find", "label_classes", "layer_of", "parents", "phrase",
           "related", "siblings", "words", "yamnet_names"]
