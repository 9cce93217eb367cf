"""Sites: the places an ISP serves from (a town, an estate, a tower, a hostel block)."""
