"""Structured and unstructured meshes (meshio I/O, quality, movers).

Empty in this release: the mesh issue of the next wave fills it (see ARCHITECTURE.md).
"""
