"""The lab: what runs experiments on top of the reference.

The package has two wings. The *reference* is what a validator, a test or a reader imports:
the core at the package root (``spectral``, ``corrections``, ``steps``, ``rules``,
``derivatives``, ``layout``, ``models``, ``loop``, ``testing`` and their private helpers),
``hsc_ref.gan``, ``hsc_ref.style`` and ``hsc_ref.golden``. The *lab* is this package: the
machinery that runs work and keeps its results.

The rule that decides, module by module: a module belongs to the lab when it exists to run
something and keep what it did, rather than to compute or check a number:

- ``hsc_ref.lab.sweep``: sweeps of many runs (specs, protocols, the Dask engine, reports);
- ``hsc_ref.lab._outputs``: output sets written atomically, with a manifest and a lock;
- ``hsc_ref.lab._checkpoint``: a loop's progress as plain arrays and JSON, periodic and
  Ctrl-C checkpoints written on top of the science functions' ``callback``, and resuming
  from them through their ``start`` argument;
- ``hsc_ref.lab._threads``: BLAS thread pools sized per command;
- ``hsc_ref.lab._gan_run``, ``hsc_ref.lab._style_run``, ``hsc_ref.lab._correct_files``: a GAN
  run, a style run and a correction written to a folder (the commands' work).

What stays in the reference although the commands use it: ``_limits`` (the memory check of
sizes a user gives, made where the sizes are read, e.g. by the GAN and style option checks and
the ``.npy`` readers), ``_extras`` (which optional extras are installed, and the hint to install
one), ``_io`` (reading and writing arrays and JSON files atomically) and ``plotting``.

The reference never imports the lab (``tests/test_layers.py`` checks it, from the source and
in a fresh interpreter). The command-line modules (``hsc_ref.cli``, ``hsc_ref.gan.cli``,
``hsc_ref.style.cli``, ``hsc_ref.golden.cli``, ``hsc_ref.lab.sweep.cli``) are thin shells: they
parse options and call into either wing, so they may import both; nothing in the reference
imports them.
"""

__all__: list[str] = []
