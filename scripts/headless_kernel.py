"""Run at the start of every kernel that scripts/run_notebooks.py launches.

Headless runs set TQDM_DISABLE=1 (the Makefile does). Plain tqdm bars honour it,
but inside a Jupyter kernel libraries pick tqdm's notebook widget
(`tqdm.auto`/`tqdm.autonotebook`), which ignores the variable: sentence-transformers'
"Computing widget examples" bar, for one, would land in the committed outputs as an
empty widget. Here the notebook widget is made to honour TQDM_DISABLE too. Notebooks
opened in JupyterLab are not affected: they keep their progress bars.
"""

import os

if os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}:
    from tqdm import notebook as _notebook

    _original_init = _notebook.tqdm_notebook.__init__

    def _disabled_init(self, *args, **kwargs):
        kwargs["disable"] = True
        _original_init(self, *args, **kwargs)

    _notebook.tqdm_notebook.__init__ = _disabled_init
