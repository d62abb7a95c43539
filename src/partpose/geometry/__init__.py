"""Puppet geometry: skeleton, T_fk (kinematics), T_c (camera) and T_s (part maps)."""
