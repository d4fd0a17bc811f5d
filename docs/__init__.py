"""Scripts that redraw parts of the docs. Run them as modules from the project's root: python -m docs.make_plots."""
