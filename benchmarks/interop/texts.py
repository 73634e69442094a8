"""Texts for the interop check; texts.txt holds the same lines for `blockbuster predict --file`."""
TEXTS = [
    "I absolutely loved this movie. The characters were so well-developed!",
    "This was one of the worst films I've ever seen. I wouldn't recommend it to anyone.",
    "Café Société: a naïve, ÜBER-stylish résumé of 1990's cinema — 10/10!!! <br /><br />",
    "Not bad at all, though the second half drags.",
]
