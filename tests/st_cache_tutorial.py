"""The code of Streamlit's legacy caching tutorial ("Optimize performance with
st.cache", the seed of this project), block by block, as the page has them (with
the function bodies' indentation, which the page's text lost, put back): each block is
the app after one edit the tutorial makes, the widget and mutation blocks included."""

SNIPPETS = [
    """\
import streamlit as st
import time
def expensive_computation(a, b):
    time.sleep(2) # 👈 This makes the function take 2s to run
    return a * b
a = 2
b = 21
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
@st.cache # 👈 Added this
def expensive_computation(a, b):
    time.sleep(2) # This makes the function take 2s to run
    return a * b
a = 2
b = 21
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
@st.cache(suppress_st_warning=True) # 👈 Changed this
def expensive_computation(a, b):
# 👇 Added this
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return a * b
a = 2
b = 21
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
@st.cache(suppress_st_warning=True)
def expensive_computation(a, b):
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return a * b
a = 2
b = 210 # 👈 Changed this
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
@st.cache(suppress_st_warning=True)
def expensive_computation(a, b):
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return a * b + 1 # 👈 Added a +1 at the end here
a = 2
b = 210
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
def inner_func(a, b):
    st.write("inner_func(", a, ",", b, ") ran")
    return a * b
@st.cache(suppress_st_warning=True)
def expensive_computation(a, b):
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return inner_func(a, b) + 1
a = 2
b = 210
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
def inner_func(a, b):
    st.write("inner_func(", a, ",", b, ") ran")
    return a ** b # 👈 Changed the * to ** here
@st.cache(suppress_st_warning=True)
def expensive_computation(a, b):
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return inner_func(a, b) + 1
a = 2
b = 21
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
@st.cache(suppress_st_warning=True)
def expensive_computation(a, b):
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return a * b
a = 2
b = st.slider("Pick a number", 0, 10) # 👈 Changed this
res = expensive_computation(a, b)
st.write("Result:", res)
""",
    """\
import streamlit as st
import time
@st.cache(suppress_st_warning=True)
def expensive_computation(a, b):
    st.write("Cache miss: expensive_computation(", a, ",", b, ") ran")
    time.sleep(2) # This makes the function take 2s to run
    return {"output": a * b} # 👈 Mutable object
a = 2
b = 21
res = expensive_computation(a, b)
st.write("Result:", res)
res["output"] = "result was manually mutated" # 👈 Mutated cached value
st.write("Mutated result:", res)
""",
]
