"""Generates pairs.jsonl: the labelled evaluation set of the semantic cache's hit decision.

Each line: {"a": ..., "b": ..., "hit": bool, "kind": "paraphrase" | "near_miss" | "unrelated",
"why": ...}. Paraphrases vary wording, typos, order, filler and formality; near-misses change
one salient detail (number, unit, direction, negation, polarity, language, programming language,
format, quantity, entity). Deterministic (fixed seed): `python3 generate.py > pairs.jsonl`.
"""
import json
import random

rng = random.Random(20261122)
out = []

def add(a, b, hit, kind, why):
    out.append({"a": a, "b": b, "hit": hit, "kind": kind, "why": why})

def typo(s):
    words = s.split()
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 4 and w.isalpha():
        j = rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)

FILLERS = ["Quick question: ", "Hey, ", "Could you tell me ", "Please, ", "I was wondering, ", "Hi! "]
POLITE = [" Thanks!", " Thank you.", " please", " if you can", ""]

# (question, paraphrases...) across domains and styles; salient details identical.
PARAPHRASES = [
    ("How do I reset my password?", ["I forgot my password, how can I reset it?", "What's the way to reset my password?", "how to reset password", "Can you help me reset my password?"]),
    ("What is the capital of Australia?", ["Which city is Australia's capital?", "capital city of Australia?", "Tell me the capital of Australia."]),
    ("Convert 5 miles to km", ["How many km is 5 miles?", "5 miles in km?", "what is 5 miles in km", "convert 5 miles into km please"]),
    ("Is chocolate toxic for dogs?", ["Can chocolate poison dogs?", "is chocolate toxic to dogs", "Are dogs harmed by chocolate, is it toxic?"]),
    ("Write a Python function to reverse a string", ["How do I reverse a string in Python? Write a function.", "python function that reverses a string", "Give me a Python function for reversing a string"]),
    ("Translate 'good morning' into Spanish", ["How do you say 'good morning' in Spanish?", "translate good morning to Spanish", "What's 'good morning' in Spanish?"]),
    ("List 3 benefits of regular exercise", ["Give me 3 benefits of exercising regularly", "what are 3 benefits of regular exercise", "Name 3 advantages of regular exercise"]),
    ("Summarize the plot of Hamlet as a table", ["Give me a summary of Hamlet's plot as a table", "Hamlet plot summary, formatted as a table", "Summarise Hamlet's plot in a table"]),
    ("What is 15% of 200?", ["Calculate 15% of 200", "how much is 15% of 200", "What's 15 percent of 200?"]),
    ("How long should I boil an egg for a soft yolk?", ["How many minutes to boil an egg so the yolk stays soft?", "soft boiled egg: how long to boil it?", "For a soft yolk, how long do I boil an egg?"]),
    ("Explain how a VPN works", ["How does a VPN work?", "Can you explain how VPNs work?", "explain the way a VPN works"]),
    ("What are the symptoms of dehydration?", ["What symptoms does dehydration cause?", "signs and symptoms of dehydration", "Which symptoms indicate dehydration?"]),
    ("Convert 100 USD to EUR", ["How much is 100 USD in EUR?", "100 USD to EUR", "what's 100 USD in EUR today"]),
    ("How do I center a div with CSS?", ["What's the CSS to center a div?", "center a div using CSS", "How can I center a div in CSS?"]),
    ("Give me a recipe for vegan pancakes", ["How do I make vegan pancakes? Recipe please", "vegan pancake recipe", "Can you share a recipe for vegan pancakes?"]),
    ("What time zone is Tokyo in?", ["Which time zone does Tokyo use?", "Tokyo time zone?", "What's the time zone of Tokyo?"]),
    ("How many days are in a leap year?", ["A leap year has how many days?", "number of days in a leap year", "How many days does a leap year have?"]),
    ("Write a SQL query to count users by country", ["SQL query that counts users per country", "How do I count users by country in SQL? Write the query.", "Give me SQL to count the users grouped by country"]),
    ("What's the difference between TCP and UDP?", ["How is TCP different from UDP?", "TCP vs UDP: what's the difference?", "Explain the difference between TCP and UDP"]),
    ("Suggest 5 names for a coffee shop", ["Give me 5 coffee shop name ideas", "5 name suggestions for a coffee shop", "Can you suggest 5 names for my coffee shop?"]),
    ("How do I cancel my subscription?", ["What's the process to cancel my subscription?", "cancel subscription how", "I want to cancel my subscription, how do I do it?"]),
    ("When was the Eiffel Tower built?", ["What year was the Eiffel Tower built?", "Eiffel Tower construction date?", "In which year did they build the Eiffel Tower?"]),
    ("How do I export invoices as CSV?", ["What's the way to export my invoices as CSV?", "export invoices to CSV", "Can I export the invoices in CSV format? How?"]),
    ("Is it safe to drink tap water in Lisbon?", ["Can I safely drink tap water in Lisbon?", "is Lisbon tap water safe to drink", "Is the tap water in Lisbon safe for drinking?"]),
    ("Write a haiku about autumn", ["Compose a haiku about autumn", "haiku about autumn please", "Can you write me an autumn haiku?"]),
    ("What is the boiling point of water at sea level?", ["At sea level, what's water's boiling point?", "boiling point of water at sea level", "Water boils at what temperature at sea level?"]),
    ("How do I sort a list in Rust?", ["What's the way to sort a list in Rust?", "sort a list Rust", "In Rust, how can I sort a list?"]),
    ("Recommend 2 books about stoicism", ["Give me 2 book recommendations on stoicism", "2 good books about stoicism?", "Which 2 books about stoicism would you recommend?"]),
    ("What does HTTP 404 mean?", ["What is the meaning of HTTP 404?", "HTTP 404 meaning", "Explain what an HTTP 404 means"]),
    ("How do I increase my credit limit?", ["What's the way to increase my credit limit?", "increase credit limit how", "Can I increase my credit limit? How?"]),
    ("Draft an email declining a meeting invitation", ["Write an email to decline a meeting invitation", "email declining a meeting invite, please draft it", "Help me draft an email that declines a meeting invitation"]),
    ("What's the population of Canada?", ["How many people live in Canada?", "Canada population?", "What is Canada's population?"]),
    ("Describe the water cycle as a bullet list", ["Explain the water cycle as a bullet list", "water cycle description, bullet list please", "Give me the water cycle described in a bullet list"]),
    ("How many grams are in 2 cups of flour?", ["2 cups of flour is how many grams?", "grams in 2 cups of flour", "How much do 2 cups of flour weigh in grams?"]),
    ("Write unit tests in JavaScript for a sum function", ["Give me JavaScript unit tests for a sum function", "unit tests for a sum function in JavaScript", "How would I unit test a sum function in JavaScript? Write the tests."]),
    ("What are the opening hours of the Louvre?", ["When is the Louvre open?", "Louvre opening hours", "What hours is the Louvre open?"]),
]

for question, variants in PARAPHRASES:
    for v in variants:
        add(question, v, True, "paraphrase", "rewording")
    add(question, typo(question), True, "paraphrase", "typo")
    add(question, rng.choice(FILLERS) + question[0].lower() + question[1:] + rng.choice(POLITE), True, "paraphrase", "filler/formality")

# Near-misses: (a, b, why).
NEAR = [
    ("Convert 5 miles to km", "Convert 6 miles to km", "number"),
    ("Convert 5 miles to km", "Convert 5 km to miles", "direction"),
    ("Convert 5 miles to km", "Convert 5 miles to meters", "unit"),
    ("Convert 100 USD to EUR", "Convert 100 EUR to USD", "direction"),
    ("Convert 100 USD to EUR", "Convert 1000 USD to EUR", "number"),
    ("Convert 100 USD to EUR", "Convert 100 USD to GBP", "unit"),
    ("Is chocolate toxic for dogs?", "Is chocolate safe for dogs?", "polarity"),
    ("Is chocolate toxic for dogs?", "Is chocolate toxic for cats?", "entity"),
    ("Is it safe to drink tap water in Lisbon?", "Is it safe to drink tap water in Madrid?", "entity"),
    ("Is it safe to drink tap water in Lisbon?", "Is it not safe to drink tap water in Lisbon?", "negation"),
    ("Write a Python function to reverse a string", "Write a Rust function to reverse a string", "programming language"),
    ("Write a Python function to reverse a string", "Write a JavaScript function to reverse a string", "programming language"),
    ("How do I sort a list in Rust?", "How do I sort a list in Python?", "programming language"),
    ("Write unit tests in JavaScript for a sum function", "Write unit tests in TypeScript for a sum function", "programming language"),
    ("Translate 'good morning' into Spanish", "Translate 'good morning' into French", "language"),
    ("Translate 'good morning' into Spanish", "Translate 'good morning' into German", "language"),
    ("Translate 'good night' from English to Italian", "Translate 'good night' from Italian to English", "direction"),
    ("List 3 benefits of regular exercise", "List 10 benefits of regular exercise", "quantity"),
    ("Suggest 5 names for a coffee shop", "Suggest 20 names for a coffee shop", "quantity"),
    ("Recommend 2 books about stoicism", "Recommend 7 books about stoicism", "quantity"),
    ("Summarize the plot of Hamlet as a table", "Summarize the plot of Hamlet as JSON", "format"),
    ("Summarize the plot of Hamlet as a table", "Summarize the plot of Macbeth as a table", "entity"),
    ("Describe the water cycle as a bullet list", "Describe the water cycle as a paragraph", "format"),
    ("How do I export invoices as CSV?", "How do I export invoices as PDF?", "format"),
    ("Return the user list as JSON", "Return the user list as XML", "format"),
    ("Return the user list as JSON", "Return the user list as YAML", "format"),
    ("What is 15% of 200?", "What is 20% of 200?", "number"),
    ("What is 15% of 200?", "What is 15% of 300?", "number"),
    ("How many grams are in 2 cups of flour?", "How many grams are in 3 cups of flour?", "number"),
    ("How many grams are in 2 cups of flour?", "How many grams are in 2 cups of sugar?", "entity"),
    ("How do I increase my credit limit?", "How do I decrease my credit limit?", "polarity"),
    ("How do I cancel my subscription?", "How do I renew my subscription?", "polarity"),
    ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?", "polarity"),
    ("How do I add a user to the admin group?", "How do I remove a user from the admin group?", "polarity"),
    ("Should I buy Apple stock now?", "Should I sell Apple stock now?", "polarity"),
    ("What is the capital of Australia?", "What is the capital of Austria?", "entity"),
    ("What is the capital of Australia?", "What is the largest city of Australia?", "polarity"),
    ("What time zone is Tokyo in?", "What time zone is Osaka in?", "entity"),
    ("When was the Eiffel Tower built?", "When was the Statue of Liberty built?", "entity"),
    ("What's the population of Canada?", "What's the population of Mexico?", "entity"),
    ("What are the opening hours of the Louvre?", "What are the opening hours of the Prado?", "entity"),
    ("What does HTTP 404 mean?", "What does HTTP 500 mean?", "number"),
    ("How many days are in a leap year?", "How many days are in a common year?", "polarity"),
    ("What's the difference between TCP and UDP?", "What's the difference between HTTP and HTTPS?", "entity"),
    ("Write a SQL query to count users by country", "Write a SQL query to count orders by country", "entity"),
    ("Write a haiku about autumn", "Write a haiku about spring", "entity"),
    ("Write a haiku about autumn", "Write a limerick about autumn", "format"),
    ("Give me a recipe for vegan pancakes", "Give me a recipe for gluten-free pancakes", "entity"),
    ("Draft an email declining a meeting invitation", "Draft an email accepting a meeting invitation", "polarity"),
    ("How long should I boil an egg for a soft yolk?", "How long should I boil an egg for a hard yolk?", "polarity"),
    ("What is the boiling point of water at sea level?", "What is the freezing point of water at sea level?", "polarity"),
    ("Is ibuprofen safe during pregnancy?", "Is ibuprofen unsafe during pregnancy?", "polarity"),
    ("Can I take aspirin with alcohol?", "Can I take aspirin without alcohol?", "negation"),
    ("Which foods are high in iron?", "Which foods are low in iron?", "polarity"),
    ("What is the minimum wage in Germany?", "What is the maximum wage in Germany?", "polarity"),
    ("What is the minimum wage in Germany?", "What is the minimum wage in France?", "entity"),
    ("Show me flights from Paris to Rome", "Show me flights from Rome to Paris", "direction"),
    ("Show me flights from Paris to Rome on Monday", "Show me flights from Paris to Rome on Friday", "entity"),
    ("Set a timer for 10 minutes", "Set a timer for 15 minutes", "number"),
    ("Set a timer for 10 minutes", "Set a timer for 10 seconds", "unit"),
    ("Convert 30 Celsius to Fahrenheit", "Convert 30 Fahrenheit to Celsius", "direction"),
    ("Convert 2 kg to lbs", "Convert 2 lbs to kg", "direction"),
    ("Encrypt this file with AES", "Decrypt this file with AES", "polarity"),
    ("How do I upload files to S3?", "How do I download files from S3?", "polarity"),
    ("Compress the image to 500 KB", "Compress the image to 50 KB", "number"),
    ("What happened in 1969?", "What happened in 1968?", "number"),
    ("Give me the top 5 programming languages in 2024", "Give me the top 5 programming languages in 2025", "number"),
    ("Sort the numbers in ascending order", "Sort the numbers in descending order", "polarity"),
    ("What is the cheapest flight to London?", "What is the most expensive flight to London?", "polarity"),
    ("Explain recursion to a beginner", "Explain recursion to an expert", "polarity"),
    ("Is it legal to drive with headphones in California?", "Is it legal to drive with headphones in Texas?", "entity"),
    ("Reply in English", "Reply in Japanese", "language"),
    ("Write the answer in Portuguese", "Write the answer in Dutch", "language"),
    ("Write a Go function to parse JSON", "Write a Java function to parse JSON", "programming language"),
    ("Write a bash script to back up a folder", "Write a PowerShell script to back up a folder", "programming language"),
    ("Write a Ruby class for a bank account", "Write a PHP class for a bank account", "programming language"),
    ("How do I turn off notifications on iPhone?", "How do I turn on notifications on iPhone?", "polarity"),
    ("How do I turn off notifications on iPhone?", "How do I turn off notifications on Android?", "entity"),
    ("I do not want to receive marketing emails", "I want to receive marketing emails", "negation"),
    ("Find hotels near the airport without breakfast", "Find hotels near the airport with breakfast", "negation"),
    ("Why is my code not compiling?", "Why is my code compiling?", "negation"),
    ("Give me 1 example of a metaphor", "Give me 4 examples of a metaphor", "quantity"),
    ("Split the bill between 3 people", "Split the bill between 4 people", "number"),
    ("Schedule the meeting before lunch", "Schedule the meeting after lunch", "polarity"),
    ("Print the first 10 rows", "Print the last 10 rows", "polarity"),
    ("What's 2 to the power of 10?", "What's 10 to the power of 2?", "direction"),
    ("Is 17 a prime number?", "Is 21 a prime number?", "number"),
    ("Format the date as YYYY-MM-DD", "Format the date as DD/MM/YYYY", "format"),
    ("Write the report in markdown", "Write the report in HTML", "format"),
    ("Answer in one sentence", "Answer in three sentences", "quantity"),
    ("Shorten this paragraph to 50 words", "Shorten this paragraph to 100 words", "number"),
    ("What's the weather in Berlin tomorrow?", "What's the weather in Berlin today?", "entity"),
    ("How do I merge two branches in git?", "How do I rebase two branches in git?", "polarity"),
    ("Is coffee good for your heart?", "Is coffee bad for your heart?", "polarity"),
    ("How much protein is in 100 g of chicken?", "How much protein is in 100 g of tofu?", "entity"),
    ("How much protein is in 100 g of chicken?", "How much fat is in 100 g of chicken?", "entity"),
    ("Write a cover letter for a nurse position", "Write a cover letter for a teacher position", "entity"),
    ("Translate this contract from German to English", "Translate this contract from English to German", "direction"),
    ("Round 3.14159 to 2 decimal places", "Round 3.14159 to 3 decimal places", "number"),
    ("Open a savings account for a minor", "Close a savings account for a minor", "polarity"),
    ("Start the server in debug mode", "Stop the server in debug mode", "polarity"),
    ("Start the server in debug mode", "Start the server in release mode", "polarity"),
    ("Is it safe to eat raw eggs?", "Is it safe to eat raw chicken?", "entity"),
    ("Plan a 3 day trip to Kyoto", "Plan a 7 day trip to Kyoto", "number"),
    ("Plan a 3 day trip to Kyoto", "Plan a 3 day trip to Osaka", "entity"),
    ("Give me a workout for beginners", "Give me a workout for advanced athletes", "polarity"),
    ("Write a poem with rhymes", "Write a poem without rhymes", "negation"),
    ("Allow cookies on this site", "Block cookies on this site", "polarity"),
    ("Generate a strong password of 12 characters", "Generate a strong password of 20 characters", "number"),
    ("Which is heavier, 1 kg of steel or 1 kg of feathers?", "Which is heavier, 1 kg of steel or 2 kg of feathers?", "number"),
    ("Calculate the area of a circle with radius 4", "Calculate the circumference of a circle with radius 4", "entity"),
    ("Calculate the area of a circle with radius 4", "Calculate the area of a circle with radius 6", "number"),
    ("Explain photosynthesis in simple terms", "Explain photosynthesis in technical terms", "polarity"),
    ("Convert this Python code to Rust", "Convert this Rust code to Python", "direction"),
    ("What are the pros of remote work?", "What are the cons of remote work?", "polarity"),
    ("How do I lose weight quickly?", "How do I gain weight quickly?", "polarity"),
    ("Is the store open on Sunday?", "Is the store open on Saturday?", "entity"),
    ("Book a table for 2 at 7 pm", "Book a table for 4 at 7 pm", "number"),
    ("Book a table for 2 at 7 pm", "Book a table for 2 at 8 pm", "number"),
    ("Email the invoice to Alice", "Email the invoice to Bob", "entity"),
    ("Give me synonyms for happy", "Give me antonyms for happy", "polarity"),
    ("Which planet is closest to the sun?", "Which planet is farthest from the sun?", "polarity"),
    ("What is the tallest mountain in Europe?", "What is the tallest mountain in Africa?", "entity"),
    ("What is the tallest mountain in Europe?", "What is the smallest mountain in Europe?", "polarity"),
    ("Summarize this article in 3 bullet points", "Summarize this article in 5 bullet points", "quantity"),
    ("Make the text more formal", "Make the text less formal", "polarity"),
    ("Add 2 weeks to March 3", "Subtract 2 weeks from March 3", "polarity"),
    ("Rank these cities by population, highest first", "Rank these cities by population, lowest first", "polarity"),
    ("Should I use tabs or spaces in Python?", "Should I use tabs or spaces in Go?", "programming language"),
    ("Write a regex that matches emails", "Write a regex that does not match emails", "negation"),
    ("Find vegetarian restaurants in Rome", "Find vegan restaurants in Rome", "entity"),
    ("Find vegetarian restaurants in Rome", "Find vegetarian restaurants in Milan", "entity"),
    ("Export the chart as PNG", "Export the chart as SVG", "format"),
    ("How do I create an index in PostgreSQL?", "How do I drop an index in PostgreSQL?", "polarity"),
    ("How do I create an index in PostgreSQL?", "How do I create an index in MySQL?", "entity"),
    ("What's the speed limit on German highways?", "What's the speed limit on French highways?", "entity"),
    ("Tell me a joke for kids", "Tell me a joke for adults", "entity"),
    ("Estimate the cost of 3 nights in Paris", "Estimate the cost of 3 nights in London", "entity"),
    ("Estimate the cost of 3 nights in Paris", "Estimate the cost of 5 nights in Paris", "number"),
    ("Describe the symptoms of type 1 diabetes", "Describe the symptoms of type 2 diabetes", "number"),
    ("Write a tweet announcing our launch", "Write a tweet apologizing for our outage", "entity"),
    ("Is this mushroom edible?", "Is this mushroom poisonous?", "polarity"),
    ("Move the file to the archive folder", "Copy the file to the archive folder", "polarity"),
    ("Give directions from the station to the museum", "Give directions from the museum to the station", "direction"),
    ("Compare iPhone 14 and iPhone 15", "Compare iPhone 13 and iPhone 15", "number"),
    ("What's the interest on 1000 dollars at 5% for 2 years?", "What's the interest on 1000 dollars at 5% for 3 years?", "number"),
    ("Explain the causes of World War 1", "Explain the causes of World War 2", "number"),
    ("Reply yes if you agree", "Reply no if you agree", "polarity"),
    ("Lock the screen after 5 minutes", "Lock the screen after 1 minute", "number"),
    ("Can dogs eat grapes?", "Can cats eat grapes?", "entity"),
    ("Can dogs eat grapes?", "Can dogs eat apples?", "entity"),
    ("Show revenue for Q1", "Show revenue for Q3", "number"),
    ("Show revenue for Q1", "Show expenses for Q1", "entity"),
    ("Set the thermostat to 21 degrees", "Set the thermostat to 18 degrees", "number"),
    ("Write a function that returns the maximum of a list", "Write a function that returns the minimum of a list", "polarity"),
    ("Write a function that returns the maximum of a list", "Write a function that returns the sum of a list", "entity"),
    ("Translate 'thank you' into Korean", "Translate 'thank you' into Chinese", "language"),
    ("Give me a 5 minute meditation script", "Give me a 20 minute meditation script", "number"),
    ("Is it rude to tip in Japan?", "Is it rude to tip in Italy?", "entity"),
    ("Cite sources in APA style", "Cite sources in MLA style", "format"),
    ("Reply with only the number", "Reply with the number and an explanation", "format"),
    ("Use metric units", "Use imperial units", "unit"),
    ("List the planets in order from the sun", "List the planets in reverse order from the sun", "polarity"),
    ("Convert 1 gallon to liters", "Convert 1 liter to gallons", "direction"),
    ("What year did Apple release the first iPhone?", "What year did Samsung release the first Galaxy?", "entity"),
    ("How many calories are in a banana?", "How many calories are in an apple?", "entity"),
    ("Draw a diagram of the OSI model as ASCII art", "Draw a diagram of the OSI model as a mermaid chart", "format"),
    ("Write a Kotlin data class for a user", "Write a Swift struct for a user", "programming language"),
    ("Write C++ code to read a file", "Write C code to read a file", "programming language"),
    ("Apply a 10% discount", "Apply a 15% discount", "number"),
    ("Apply a 10% discount", "Apply a 10% surcharge", "polarity"),
    ("Increase the font size", "Decrease the font size", "polarity"),
    ("Hide the sidebar", "Show the sidebar", "polarity"),
    ("Include weekends in the count", "Exclude weekends from the count", "polarity"),
    ("Is it true that bats are blind?", "Is it false that bats are blind?", "polarity"),
]
for a, b, why in NEAR:
    add(a, b, False, "near_miss", why)

# Unrelated: random pairs of different questions.
questions = [q for q, _ in PARAPHRASES] + [a for a, _, _ in NEAR]
questions = sorted(set(questions))
seen = set()
while sum(1 for p in out if p["kind"] == "unrelated") < 70:
    a, b = rng.sample(questions, 2)
    if (a, b) in seen or a.split()[:3] == b.split()[:3]:
        continue
    seen.add((a, b))
    add(a, b, False, "unrelated", "different question")

for p in out:
    print(json.dumps(p, ensure_ascii=False))
