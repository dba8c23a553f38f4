"""``minires report``: a sweep folder's trials averaged over seeds, in tables and figures.

    sweep_folder.py   reads and checks sweep.json, trials.jsonl and the trials' run folders
    aggregate.py      groups the trials by (family, depth) and takes mean, std and n over seeds
    tables.py         table.csv and report.md (with the published numbers beside minires's)
    figures.py        error against depth (or a bar per family), and the curves per depth
    tracks.py         what --track recorded: VAN's alpha residual, noise stability per layer

A report is made from the sweep's small, committed files only (never a checkpoint), so
that anyone can make it again with the command it names; minires/cli/report_command.py
puts the pieces together.
"""
