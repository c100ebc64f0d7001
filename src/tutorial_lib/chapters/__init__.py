"""One module per chapter: its frozen configurations and the recipes that the chapter's
notebook, its benchmark suite and its tests all call (import a chapter as
``from tutorial_lib.chapters import vae_digits``)."""
