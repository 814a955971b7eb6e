"""The lab catalogue: exercises built on the model cases, their trainee and instructor workflows.

Public API:
    catalogue() -> tuple[Lab, ...]           every lab package under labs/, validated
    load_lab(ID_OR_NUMBER_OR_PATH) -> Lab     one lab package (``LabPackageError`` with file:line)
    session.start(lab, name=...) / check / submit / hint / reset / stop   trainee workflow
    grading.grade_static(lab, workdir) / grading.grade_live(lab, name)  -> LabResult
    validate.validate(lab) -> ValidationReport                           instructor checks
    progress.ProgressStore()                                              results and skill report
"""

from sdnlab.labs.loader import catalogue, labs_root, load_lab
from sdnlab.labs.model import Lab

__all__ = ["Lab", "catalogue", "labs_root", "load_lab"]
