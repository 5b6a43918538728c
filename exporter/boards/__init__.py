"""Board families: each module recognises its boards and sets their default collectors.

No module outside this package names a board.
"""
