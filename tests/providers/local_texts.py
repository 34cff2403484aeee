"""Real text in several languages and scripts, written for the local-model tests."""

EN_POSITIVE = (
    "I absolutely love this coffee grinder. It is quiet, fast and the grind is perfectly even. "
    "Cleaning it takes a minute. Best kitchen purchase I have made this year, highly recommended!"
)
EN_NEGATIVE = (
    "Terrible blender. It broke after two days and the motor smelled like burning plastic. "
    "Customer support was rude and useless. I want my money back, what a horrible waste."
)
EN_NEGATED = "The food was not good at all, and the service was not friendly either."
EN_NEUTRAL = "The package arrived on Tuesday. It contains a charger and a cable."

EN_ARTICLE = (
    "Solar panels convert sunlight into electricity using photovoltaic cells. "
    "The efficiency of solar panels has improved steadily over the last decade. "
    "Modern photovoltaic cells turn more than twenty percent of sunlight into electricity. "
    "My cousin prefers strawberry jam on toast. "
    "Cheaper solar panels have made solar electricity competitive with coal and gas. "
    "Storing solar electricity in batteries remains expensive for many households. "
    "Governments offer subsidies so that households can install solar panels and batteries. "
    "The weather was mild on Sunday."
)
EN_REVIEW = (
    "The battery life of this laptop is outstanding and lasts a full working day. "
    "The screen is bright and sharp. However, the keyboard feels cheap and the trackpad "
    "sometimes misses clicks. Battery life matters most to me, so I am happy overall."
)

FR_REVIEW = (
    "Le service de cet hôtel était excellent et le personnel très aimable. "
    "M. Dupont, le directeur, nous a accueillis à la gare. La chambre était propre et calme, "
    "mais le petit-déjeuner était beaucoup trop cher. La piscine de l'hôtel est magnifique. "
    "Nous reviendrons dans cet hôtel l'été prochain avec nos enfants."
)
DE_REVIEW = (
    "Am 3. Oktober fuhren wir mit dem Zug nach Berlin. Das Hotel war wunderbar, z.B. das "
    "Frühstück mit frischem Brot. Die Zimmer im Hotel waren sauber und ruhig. Das Personal "
    "im Hotel war freundlich und hilfsbereit. Wir kommen gerne wieder nach Berlin."
)
ES_REVIEW = (
    "El restaurante del Sr. García es muy acogedor. La paella del restaurante estaba "
    "deliciosa y el servicio fue rápido. ¿El precio? Un poco alto para el barrio. "
    "Los camareros del restaurante fueron muy amables con nosotros. Volveremos pronto."
)
IT_TEXT = (
    "Il museo della città è aperto tutti i giorni. La collezione del museo comprende "
    "dipinti del Rinascimento e sculture antiche. Il biglietto costa dieci euro."
)
RU_TEXT = (
    "Москва — столица России и крупнейший город страны. В Москве много музеев, театров и "
    "парков. Московское метро считается одним из самых красивых в мире. Каждый год Москву "
    "посещают миллионы туристов."
)
ZH_TEXT = (
    "人工智能正在改变世界。机器学习是人工智能的一个分支。深度学习推动了图像识别和语音识别的进步。"
    "许多公司正在投资人工智能。"
)
JA_TEXT = "東京は日本の首都です。東京には多くの観光地があります。浅草寺は東京で最も古い寺です。"
AR_TEXT = "القاهرة هي عاصمة مصر وأكبر مدنها. يزور ملايين السياح المدينة كل عام لرؤية الأهرامات."
HI_TEXT = "दिल्ली भारत की राजधानी है। यह शहर अपने इतिहास और स्वादिष्ट भोजन के लिए प्रसिद्ध है।"
EL_TEXT = "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. Η πόλη είναι γνωστή για την Ακρόπολη και τα μουσεία της."

BY_LANGUAGE = {
    "en": EN_REVIEW, "fr": FR_REVIEW, "de": DE_REVIEW, "es": ES_REVIEW, "it": IT_TEXT,
    "ru": RU_TEXT, "zh-cn": ZH_TEXT, "ja": JA_TEXT, "ar": AR_TEXT, "hi": HI_TEXT, "el": EL_TEXT,
}
