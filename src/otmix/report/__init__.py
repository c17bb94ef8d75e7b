"""Tables and figures of otmix runs."""
