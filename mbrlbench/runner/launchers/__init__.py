"""Where runs execute: ``inline`` (this process, one after another), ``local`` (a process pool on this
machine, several per GPU), ``ray`` and ``slurm`` (clusters)."""
