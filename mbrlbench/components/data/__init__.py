"""Data on the device: replay buffers (``buffers``), padded trajectories and their returns (``trajectories``), and
MBPO's branched model rollouts (``rollouts``)."""
