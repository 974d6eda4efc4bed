"""Camera sources, the demo clip and the always-running camera thread that fills the frame slot."""
