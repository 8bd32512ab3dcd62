"""A whole pamchain on one machine: the devnet and demo runners, their stories, a throwaway Samba AD DC, and
the process helpers the tests and benchmarks share with them. ``pamchain devnet``/``demo`` only wire these."""
