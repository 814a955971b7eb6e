"""DPI benchmark: parser, engine and nDPI (ndpiReader) on the reference captures."""
