"""Policies and their updates: SAC (``sac``), the rllab-style Gaussian MLP with TRPO's step and on-policy maths
(``policy_gradient``), the one PPO epoch loop (``ppo``), and the saved policy ``eval`` rebuilds (``saved_policy``)."""
