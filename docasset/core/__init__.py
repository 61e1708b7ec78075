"""Dagster-free domain core, one package per stage of the asset graph.

``intake`` -> ``ocr`` -> ``extraction`` -> ``validation`` -> ``training`` -> ``evaluation`` ->
``monitoring``; ``reporting`` renders every report, ``datasets`` reads labelled folders;
``workdir`` and ``files`` are the on-disk layout and its atomic writes. Nothing here imports
Dagster: assets in ``docasset.defs`` call these functions and attach metadata.
"""

from docasset.core import _legacy

_legacy.install()
