"""A team's model for driftloop: ``training.model: "team_model.model:build"``."""
