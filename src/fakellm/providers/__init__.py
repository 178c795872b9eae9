"""The API families fakellm speaks, one folder each; `registry` lists them, `base` holds what they share."""
