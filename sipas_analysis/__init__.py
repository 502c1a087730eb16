"""sipas_analysis — SIPAS and PAPI survey analysis for the survey areas of old Long An.

Load commune-level survey waves, validate them, compute design-based SIPAS and PAPI indices with
honest confidence intervals, follow trends and weak points, and print Vietnamese PDF briefs.

In JupyterLab::

    import sipas_analysis as sa
    sa.geography.commune_name(27694)      # 'Phường 1'
"""

from sipas_analysis import geography

__version__ = "0.1.0"

__all__ = ["__version__", "geography"]
