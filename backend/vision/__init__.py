"""Image recognition and where the network looked: CAMs, pixel attributions, ROAD, inside a CNN."""
