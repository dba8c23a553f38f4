"""Exercise checks, one module per lesson, one function per exercise.

Each check takes the reader's answer and returns a ``minires.lessons.Grade``: truthy
when the answer is right, and a message that says what is wrong otherwise. A check
never raises on a wrong or missing answer, so a notebook still runs top to bottom.

    from minires.lessons.checks import lesson01
    lesson01.check_topological_order(order)
"""
