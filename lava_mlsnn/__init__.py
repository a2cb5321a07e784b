"""lava-mlsnn."""
