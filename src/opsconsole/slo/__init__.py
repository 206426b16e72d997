"""Service level objectives: indicators from check history and ``metrics:`` sources,
attainment, error budgets, burn rates and the burn-rate alert rules. Never imports Textual."""
