"""For instructors: ``sdnlab lab validate`` of a catalogue lab from the UI, as a background job.

``POST /api/validations`` accepts a job (202) and the page polls ``GET /api/validations/{id}``
for its state, its current step and, when done, the report (every item passed or failed, with
``file:line`` messages). Reports name hidden checks and show the reference solution's
counterexamples, so trainees get 403 on every endpoint here. The work and the caps are in
``classroom/validation.py``.
"""

from fastapi import APIRouter
from pydantic import BaseModel

from sdnlab.classroom import accounts
from sdnlab.classroom.deps import Db, Instructor, Room

router = APIRouter(prefix="/api/validations", tags=["validations"])


class ValidationBody(BaseModel):
    lab: str
    mode: str = "auto"


@router.get("")
def validations(user: Instructor, room: Room):
    """The server's validation jobs (newest first, reports left out), the labs and the limit."""
    return {
        "jobs": room.validations.jobs(),
        "labs": [{"id": lab.id, "number": lab.number, "title": lab.title.en} for lab in room.labs.values()],
        "limit": room.validations.limit,
    }


@router.post("", status_code=202)
def start_validation(body: ValidationBody, db: Db, user: Instructor, room: Room):
    """Validate catalogue lab ``lab`` (``mode`` auto | static | live) in the background; the job."""
    job = room.validations.submit(body.lab[:64], body.mode[:16], user)
    accounts.audit(db, user, "lab.validate", f"{job['lab']} mode={job['mode']} job={job['id']}")
    db.commit()
    return job


@router.get("/{job_id}")
def validation(job_id: int, user: Instructor, room: Room):
    """One job: state (running, done, failed), the step it is at, and the report when done."""
    return room.validations.get(job_id)
