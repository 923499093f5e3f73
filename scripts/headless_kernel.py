"""Run at the start of every kernel of a headless notebook run (`make run`, `make notebooks`,
the nbval run of `make test`), never in JupyterLab or Colab.

Headless runs set TQDM_DISABLE=1 and TRANSFORMERS_VERBOSITY=error (the Makefile and
tests/conftest.py do). Two things ignore that and would land in committed outputs:

- inside a Jupyter kernel, libraries pick tqdm's notebook widget (`tqdm.auto`), which
  ignores TQDM_DISABLE: sentence-transformers' "Computing widget examples" bar, for one,
  would be committed as an empty widget. Here the widget honours TQDM_DISABLE too.
- with progress bars off, the Trainer swaps its progress display for PrinterCallback,
  which prints every log entry as a raw dict. The notebooks show the loss as a curve or
  a short table from `trainer.state.log_history` instead, so here it prints nothing.

Interactive notebooks are not affected: they keep the progress bar and the Trainer's
own table of the training loss.
"""

import os

if os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}:
    from tqdm import notebook as _notebook
    from transformers import trainer_callback as _trainer_callback

    def _quiet_widget(original):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            original(self, *args, **kwargs)

        __init__.headless = True
        return __init__

    if not getattr(_notebook.tqdm_notebook.__init__, "headless", False):  # once, however often this file runs
        _notebook.tqdm_notebook.__init__ = _quiet_widget(_notebook.tqdm_notebook.__init__)
    _trainer_callback.PrinterCallback.on_log = lambda self, args, state, control, logs=None, **kwargs: None
