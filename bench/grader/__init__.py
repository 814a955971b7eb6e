"""Grader benchmark: static symbolic grading vs ping-based checking on smart_meter."""
