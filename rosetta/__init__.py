"""The application: the `rosetta` command, its reports, the porting guide, the notebooks'
helpers, the demos and the benchmarks. It uses the engine (shared/) and the three
implementations; neither of them imports anything from here."""
